// The core MCP flow from the TypeScript SDK client (initialize, progress,
// sampling, elicitation, resources, prompts, DELETE), used by the Go e2e tests:
//
//   node ts-client.mjs http://127.0.0.1:PORT/mcp
//
// E2E_HEADERS, if set, is a JSON object of headers sent on every request
// (e.g. {"X-API-Key": "mcpg_..."}).
//
// Prints one JSON object with what each step returned on stdout, and exits 0;
// on failure prints {"error": "..."} and exits 1. Every step is bounded by a
// timeout so a stuck gateway cannot hang the test.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const SAMPLED = 'sampled-by-ts-e2e-client-51c9';
const ELICITED = 'TS E2E Elicited Name';
const url = process.argv[2];
if (!url) {
  console.error('usage: node ts-client.mjs MCP_URL');
  process.exit(2);
}

const out = { sdkVersion: '1.32.2', samplingCalls: 0, elicitationCalls: 0, progress: [] };
const timeout = { timeout: 30000 };
const text = (res) => (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');

const client = new Client(
  { name: 'mcpgate-e2e-ts', version: '1.0.0' },
  { capabilities: { sampling: {}, elicitation: {} } },
);
client.setRequestHandler(CreateMessageRequestSchema, async () => {
  out.samplingCalls++;
  return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: SAMPLED }, stopReason: 'endTurn' };
});
client.setRequestHandler(ElicitRequestSchema, async () => {
  out.elicitationCalls++;
  return { action: 'accept', content: { name: ELICITED } };
});

const headers = process.env.E2E_HEADERS ? JSON.parse(process.env.E2E_HEADERS) : undefined;
const transport = new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined);
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ error: 'ts-client: overall timeout' }));
  process.exit(1);
}, 90000);

try {
  await client.connect(transport, timeout);
  out.protocolVersion = transport.protocolVersion ?? null;
  out.sessionId = transport.sessionId ?? null;
  out.serverName = client.getServerVersion()?.name ?? null;

  // The sampling tool is registered after notifications/initialized.
  let tools = [];
  for (let i = 0; i < 50; i++) {
    tools = (await client.listTools(undefined, timeout)).tools.map((t) => t.name);
    if (tools.includes('trigger-sampling-request')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  out.tools = tools;

  out.echo = text(await client.callTool({ name: 'echo', arguments: { message: 'hi from ts' } }, undefined, timeout));

  const lro = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
    undefined,
    { ...timeout, onprogress: (p) => out.progress.push(p) },
  );
  out.longRunning = text(lro);
  out.progressBeforeResult = out.progress.length;

  out.sampling = text(await client.callTool(
    { name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 20 } }, undefined, timeout));
  out.sampledText = SAMPLED;

  if (tools.includes('trigger-elicitation-request')) {
    out.elicitation = text(await client.callTool(
      { name: 'trigger-elicitation-request', arguments: {} }, undefined, timeout));
    out.elicitedText = ELICITED;
  }

  const resources = (await client.listResources(undefined, timeout)).resources;
  out.resourceUri = resources[0]?.uri ?? null;
  if (out.resourceUri) {
    const rr = await client.readResource({ uri: out.resourceUri }, timeout);
    out.resourceRead = rr.contents.map((c) => ({ uri: c.uri, textLength: (c.text ?? c.blob ?? '').length }));
  }

  const prompt = await client.getPrompt({ name: 'simple-prompt' }, timeout);
  out.promptMessages = prompt.messages.length;

  await transport.terminateSession();
  out.terminated = transport.sessionId === undefined;
  await client.close();
  clearTimeout(watchdog);
  console.log(JSON.stringify(out));
  process.exit(0);
} catch (err) {
  out.error = String(err?.stack || err);
  console.log(JSON.stringify(out));
  process.exit(1);
}
