// What aggregating mode carries besides lists and calls, from the
// TypeScript SDK client, used by e2e/aggregate_features_test.go:
//
//   node ts-aggregate.mjs http://127.0.0.1:PORT/mcp BACKEND
//
// BACKEND is the prefix of a server-everything backend behind the gateway
// (its tools are BACKEND_echo, ...). Prints one JSON object with what each
// step returned on stdout and exits 0; on failure prints it with "error"
// set and exits 1. Every step is bounded by a timeout.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const SAMPLED = 'sampled-by-ts-aggregate-client-3e1d';
const ROOT = 'file:///ts-aggregate/root';
const [url, backend] = process.argv.slice(2);
if (!url || !backend) {
  console.error('usage: node ts-aggregate.mjs MCP_URL BACKEND');
  process.exit(2);
}
const tool = (n) => `${backend}_${n}`;

const out = { sampledText: SAMPLED, root: ROOT, samplingCalls: 0, elicitationCalls: 0, logs: [], updated: [] };
const timeout = { timeout: 30000 };
const text = (res) => (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (cond, ms) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (cond()) return true;
  return cond();
};

const client = new Client(
  { name: 'mcpgate-e2e-ts-aggregate', version: '1.0.0' },
  { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async () => {
  out.samplingCalls++;
  return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: SAMPLED }, stopReason: 'endTurn' };
});
client.setRequestHandler(ElicitRequestSchema, async () => {
  out.elicitationCalls++;
  return { action: 'decline' };
});
client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: ROOT, name: 'ts-root' }] }));
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  out.logs.push(`${n.params.logger ?? ''}: ${typeof n.params.data === 'string' ? n.params.data : JSON.stringify(n.params.data)}`);
});
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
  out.updated.push(n.params.uri);
});

const transport = new StreamableHTTPClientTransport(new URL(url));
const watchdog = setTimeout(() => {
  out.error = 'ts-aggregate: overall timeout';
  console.log(JSON.stringify(out));
  process.exit(1);
}, 100000);

try {
  await client.connect(transport, timeout);
  out.protocolVersion = transport.protocolVersion ?? null;
  out.capabilities = client.getServerCapabilities() ?? null;

  // The capability-dependent tools are registered after initialization.
  let tools = [];
  for (let i = 0; i < 50; i++) {
    tools = (await client.listTools(undefined, timeout)).tools.map((t) => t.name);
    if (tools.includes(tool('trigger-sampling-request')) && tools.includes(tool('get-roots-list'))) break;
    await sleep(100);
  }
  out.tools = tools;

  await client.setLoggingLevel('debug', timeout);

  // No arguments: the SDK client sends none; the backend must get none.
  const env = await client.callTool({ name: tool('get-env') }, undefined, timeout);
  out.noArguments = { isError: env.isError ?? false, text: text(env).slice(0, 200) };

  out.sampling = text(await client.callTool(
    { name: tool('trigger-sampling-request'), arguments: { prompt: 'say hi', maxTokens: 20 } }, undefined, timeout));
  out.elicitation = text(await client.callTool({ name: tool('trigger-elicitation-request'), arguments: {} }, undefined, timeout));
  out.roots = text(await client.callTool({ name: tool('get-roots-list'), arguments: {} }, undefined, timeout));

  const completion = await client.complete({
    ref: { type: 'ref/prompt', name: tool('completable-prompt') },
    argument: { name: 'department', value: 'Sal' },
  }, timeout);
  out.completion = completion.completion.values;

  // The first backend to list a template keeps it as it is; the other's
  // is wrapped as mcpgate://BACKEND/...
  const templates = (await client.listResourceTemplates(undefined, timeout)).resourceTemplates
    .map((t) => t.uriTemplate).filter((u) => u.includes('demo://resource/dynamic/text/'));
  const template = templates.find((u) => u.startsWith(`mcpgate://${backend}/`)) ?? templates.find((u) => !u.startsWith('mcpgate://'));
  const uri = out.subscribedUri = template?.replace('{resourceId}', '1');
  await client.subscribeResource({ uri }, timeout);
  await client.callTool({ name: tool('toggle-subscriber-updates'), arguments: {} }, undefined, timeout);
  await until(() => out.updated.includes(uri), 12000);
  await client.callTool({ name: tool('toggle-subscriber-updates'), arguments: {} }, undefined, timeout);
  await client.unsubscribeResource({ uri }, timeout);
  await until(() => out.logs.some((l) => l.includes('Received Unsubscribe Resource request')), 5000);

  await transport.terminateSession();
  await client.close();
  clearTimeout(watchdog);
  console.log(JSON.stringify(out));
  process.exit(0);
} catch (err) {
  out.error = String(err?.stack || err);
  console.log(JSON.stringify(out));
  process.exit(1);
}
