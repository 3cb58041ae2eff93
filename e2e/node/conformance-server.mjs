// A reference server for the MCP conformance suite
// (@modelcontextprotocol/conformance), written for mcpgate's own tests: the
// suite's own everything-server is not published on npm.
//
// It speaks both revisions the suite's requirement sets cover, on one
// Streamable HTTP endpoint (http://127.0.0.1:$PORT/mcp, PORT=0 for any free
// port; the port it got is reported on stderr as "E2E_LISTENING <port>"):
//
//   - 2025-11-25 (session era) through the official TypeScript SDK 1.32.2:
//     one McpServer and StreamableHTTPServerTransport per session.
//   - 2026-07-28 (stateless, SEP-2575) by hand: SDK 1.32.2 knows no revision
//     past 2025-11-25, so this file validates the per-request _meta, answers
//     server/discover, adds SEP-2549 caching hints and serves the SEP-2322
//     input_required flows itself, from the same content as the SDK path.
//
// Era detection is the one dual-era servers use (the conformance
// repository's reference server does the same): a POST without
// Mcp-Session-Id whose params carry _meta, or whose MCP-Protocol-Version
// header names 2026-07-28, is a stateless request, and must then carry a
// MCP-Protocol-Version header. So a session-era initialize that an
// intermediary decorated with _meta is refused 400 -32020, as such servers
// refuse it; the gateway must not do that.
//
// DNS-rebinding protection: Host must name a loopback host, and an Origin,
// when sent, must too; anything else is refused 403 before any JSON-RPC.
//
// Everything the scenarios call is here: the test_* tools, resources,
// prompts, completion, logging, subscriptions, the same in both eras. The
// content is what each scenario's description asks for, written from those
// descriptions. Each initialize is logged on stderr as
// "E2E_INITIALIZE <client name>", for tests that must know what reached it.
// zod is the SDK's own dependency (pinned with it in the lock file).
import http from 'node:http';
import crypto from 'node:crypto';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import {
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  SetLevelRequestSchema,
  CompleteRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const STATELESS = '2026-07-28';
const SESSION_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const SERVER_INFO = { name: 'mcpgate-conformance-server', version: '1.0.0' };

// A 1x1 red PNG and a 1-sample 8 kHz mono WAV, base64.
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = Buffer.concat([
  Buffer.from('RIFF'), u32(38), Buffer.from('WAVEfmt '), u32(16), u16(1), u16(1), u32(8000), u32(16000),
  u16(2), u16(16), Buffer.from('data'), u32(2), u16(0),
]).toString('base64');
function u32(n) { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }
function u16(n) { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ type: 'text', text: t });

// ---- content shared by both eras ----------------------------------------

const RESOURCES = {
  'test://static-text': {
    name: 'static-text', description: 'A static text resource', mimeType: 'text/plain',
    read: (uri) => ({ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }),
  },
  'test://static-binary': {
    name: 'static-binary', description: 'A static binary resource (PNG)', mimeType: 'image/png',
    read: (uri) => ({ uri, mimeType: 'image/png', blob: PNG }),
  },
  'test://watched-resource': {
    name: 'watched-resource', description: 'A resource clients may subscribe to', mimeType: 'text/plain',
    read: (uri) => ({ uri, mimeType: 'text/plain', text: 'Watched resource content.' }),
  },
};
const TEMPLATE = { uriTemplate: 'test://template/{id}/data', name: 'template-data', description: 'Data by id', mimeType: 'application/json' };
const TEMPLATE_RE = /^test:\/\/template\/([^/]+)\/data$/;
function readTemplate(uri, id) {
  return { uri, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) };
}

const PROMPTS = {
  test_simple_prompt: {
    description: 'A prompt without arguments', arguments: [],
    get: () => ({ messages: [{ role: 'user', content: text('This is a simple prompt for testing.') }] }),
  },
  test_prompt_with_arguments: {
    description: 'A prompt with two required arguments',
    arguments: [
      { name: 'arg1', description: 'First test argument', required: true },
      { name: 'arg2', description: 'Second test argument', required: true },
    ],
    get: (a) => ({ messages: [{ role: 'user', content: text(`Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'`) }] }),
  },
  test_prompt_with_embedded_resource: {
    description: 'A prompt embedding a resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
    get: (a) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: a.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: text('Please process the embedded resource above.') },
      ],
    }),
  },
  test_prompt_with_image: {
    description: 'A prompt with an image', arguments: [],
    get: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
        { role: 'user', content: text('Please analyze the image above.') },
      ],
    }),
  },
};

const COMPLETIONS = { arg1: ['paris', 'park', 'party', 'test-value'], arg2: ['world', 'word'], resourceUri: ['test://static-text'] };
function complete(argName, value) {
  const all = COMPLETIONS[argName] ?? [];
  const values = all.filter((v) => v.startsWith(value ?? ''));
  return { completion: { values, total: values.length, hasMore: false } };
}

// Tools whose result needs nothing from the client.
const PLAIN_TOOLS = {
  test_simple_text: { description: 'Returns simple text', run: () => ({ content: [text('This is a simple text response for testing.')] }) },
  test_image_content: { description: 'Returns an image', run: () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }) },
  test_audio_content: { description: 'Returns audio', run: () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }) },
  test_embedded_resource: {
    description: 'Returns an embedded resource',
    run: () => ({ content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }),
  },
  test_multiple_content_types: {
    description: 'Returns text, an image and a resource',
    run: () => ({
      content: [
        text('Multiple content types test:'),
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
      ],
    }),
  },
  test_error_handling: { description: 'Always fails', run: () => ({ isError: true, content: [text('This tool intentionally returns an error for testing')] }) },
};

// A tool input schema using JSON Schema 2020-12 keywords (SEP-1613,
// SEP-2106) that a gateway must pass on untouched.
const SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contact: { type: 'string' },
    kind: { type: 'string', enum: ['person', 'company'] },
    vatId: { type: 'string' },
  },
  additionalProperties: false,
  allOf: [{ anyOf: [{ required: ['name'] }, { required: ['address'] }] }],
  if: { properties: { kind: { const: 'company' } } },
  then: { required: ['vatId'] },
  else: { not: { required: ['vatId'] } },
};
const SCHEMA_TOOL = 'json_schema_2020_12_tool';

const ELICIT_USER = {
  type: 'object',
  properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } },
  required: ['username', 'email'],
};
const ELICIT_DEFAULTS = {
  type: 'object',
  properties: {
    name: { type: 'string', default: 'John Doe' },
    age: { type: 'integer', default: 30 },
    score: { type: 'number', default: 95.5 },
    status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', default: true },
  },
};
const ELICIT_ENUMS = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    titledSingle: { type: 'string', oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
    legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
    titledMulti: { type: 'array', items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
  },
};

// ---- 2025-11-25: the SDK ------------------------------------------------

// Both eras offer the same tools, prompts and resources, so that a gateway
// may speak either era to this server. The interactive tools are written
// once, the 2026-07-28 way (SEP-2322: an input_required result, then a
// retry carrying the answers); in a 2025-11-25 session, bridge() asks the
// client over the session instead, as a session-era server does.
function sessionServer() {
  const server = new McpServer(SERVER_INFO, {
    capabilities: { logging: {}, completions: {}, resources: { subscribe: true, listChanged: true }, tools: { listChanged: true }, prompts: { listChanged: true } },
  });
  const state = { logLevel: undefined };
  for (const [name, t] of Object.entries(PLAIN_TOOLS)) {
    server.registerTool(name, { description: t.description, inputSchema: {} }, async () => t.run());
  }
  // SEP-1699 polling: the tool closes its SSE stream mid-call; the client
  // reconnects with Last-Event-ID and gets the result from the event store.
  server.registerTool('test_reconnection', { description: 'Closes its SSE stream before answering', inputSchema: {} }, async (_a, extra) => {
    await sleep(50);
    extra.closeSSEStream?.();
    await sleep(200);
    return { content: [text('Reconnection tool completed')] };
  });
  for (const [name, t] of Object.entries(STATELESS_TOOLS)) {
    if (Object.hasOwn(PLAIN_TOOLS, name) || name === 'test_reconnection') continue;
    server.registerTool(name, { description: t.description, inputSchema: zodShape(t.inputSchema) },
      async (args, extra) => bridge(t.run, { name, arguments: args }, extra, server, state));
  }
  for (const [uri, r] of Object.entries(RESOURCES)) {
    server.registerResource(r.name, uri, { description: r.description, mimeType: r.mimeType }, async (u) => ({ contents: [r.read(u.href)] }));
  }
  server.registerResource(TEMPLATE.name, new ResourceTemplate(TEMPLATE.uriTemplate, { list: undefined }),
    { description: TEMPLATE.description, mimeType: TEMPLATE.mimeType }, async (u, { id }) => ({ contents: [readTemplate(u.href, String(id))] }));
  for (const [name, p] of Object.entries(PROMPTS)) {
    const args = Object.fromEntries(p.arguments.map((a) => [a.name, z.string().describe(a.description)]));
    server.registerPrompt(name, { description: p.description, argsSchema: p.arguments.length ? args : undefined }, async (a) => p.get(a ?? {}));
  }
  server.registerPrompt(IR_PROMPT, { description: IR_PROMPT_DESCRIPTION },
    async (extra) => bridge(STATELESS_METHODS['prompts/get'], { name: IR_PROMPT }, extra, server, state));
  // Completion, subscriptions and log levels go to the low-level server:
  // McpServer's completion needs completable() schemas, and it has no
  // subscription handlers at all.
  const subscribed = new Set();
  server.server.setRequestHandler(CompleteRequestSchema, async (req) => complete(req.params.argument.name, req.params.argument.value));
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => { subscribed.add(req.params.uri); return {}; });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => { subscribed.delete(req.params.uri); return {}; });
  server.server.setRequestHandler(SetLevelRequestSchema, async (req) => { state.logLevel = req.params.level; return {}; });
  // _requestHandlers is the SDK's own table (not public API): wrapping its
  // tools/list entry is the only way to list a raw JSON Schema with 1.32.2.
  const listTools = server.server._requestHandlers.get('tools/list');
  server.server._requestHandlers.set('tools/list', async (req, extra) => {
    const r = await listTools(req, extra);
    return { ...r, tools: r.tools.map((t) => (STATELESS_TOOLS[t.name]?.inputSchema ? { ...t, inputSchema: STATELESS_TOOLS[t.name].inputSchema } : t)) };
  });
  return server;
}

// zodShape is the McpServer argument shape for a JSON Schema: McpServer
// validates (and strips) arguments by it; the listing shows the JSON Schema.
function zodShape(schema) {
  const required = new Set(schema?.required ?? []);
  return Object.fromEntries(Object.entries(schema?.properties ?? {}).map(([k, v]) => {
    const t = v.type === 'string' ? z.string() : z.any();
    return [k, required.has(k) ? t : t.optional()];
  }));
}

const AnyResult = z.object({}).passthrough();

// bridge runs a 2026-07-28 handler in a 2025-11-25 session: each
// input_required round is answered by asking the client over the session
// (sampling, elicitation, roots), and the handler is called again with the
// answers and its requestState.
async function bridge(run, params, extra, server, state) {
  const ctx = {
    caps: server.server.getClientCapabilities() ?? {},
    progressToken: extra._meta?.progressToken,
    // In a session, logs flow unless the client set a level filter.
    logLevel: state.logLevel ?? 'debug',
    notify: (method, p) => extra.sendNotification({ method, params: p }),
  };
  let p = params;
  for (let round = 0; round < 8; round++) {
    const r = await run(p, ctx);
    if (r?.resultType !== 'input_required') return r;
    const answers = {};
    for (const [key, req] of Object.entries(r.inputRequests)) answers[key] = await extra.sendRequest(req, AnyResult);
    p = { ...params, inputResponses: answers, ...(r.requestState ? { requestState: r.requestState } : {}) };
  }
  throw new Error('the tool asked for input more than 8 times');
}

const sessions = new Map(); // session id -> transport

async function handleSession(req, res, body) {
  const sid = req.headers['mcp-session-id'];
  if (sid) {
    const t = sessions.get(sid);
    if (!t) return jsonrpcError(res, 404, body?.id ?? null, -32001, 'Session not found');
    return t.handleRequest(req, res, body);
  }
  if (req.method !== 'POST' || body?.method !== 'initialize') {
    return jsonrpcError(res, 400, body?.id ?? null, -32000, 'Bad Request: no session; send initialize first');
  }
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => crypto.randomUUID(),
    eventStore: new InMemoryEventStore(),
    retryInterval: 500,
    onsessioninitialized: (id) => sessions.set(id, transport),
  });
  transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
  await sessionServer().connect(transport);
  return transport.handleRequest(req, res, body);
}

// ---- 2026-07-28: stateless, by hand -------------------------------------

// requestState is integrity-protected, as SEP-2322 asks, with a key that
// lives as long as the process.
const STATE_KEY = crypto.randomBytes(32);
function sealState(obj) {
  const payload = Buffer.from(JSON.stringify(obj)).toString('base64url');
  const mac = crypto.createHmac('sha256', STATE_KEY).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}
function openState(s) {
  if (typeof s !== 'string') return undefined;
  const [payload, mac] = s.split('.');
  if (!payload || !mac) return undefined;
  const want = crypto.createHmac('sha256', STATE_KEY).update(payload).digest();
  const got = Buffer.from(mac, 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return undefined;
  try { return JSON.parse(Buffer.from(payload, 'base64url').toString()); } catch { return undefined; }
}

class RpcError extends Error {
  constructor(code, message, data, status = 400) { super(message); this.code = code; this.data = data; this.status = status; }
}

const elicit = (message, properties, required) => ({ method: 'elicitation/create', params: { message, requestedSchema: { type: 'object', properties, required } } });
const sample = (t, maxTokens) => ({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: text(t) }], maxTokens } });
const ROOTS = { method: 'roots/list', params: {} };
const inputRequired = (inputRequests, requestState) => ({ resultType: 'input_required', inputRequests, ...(requestState ? { requestState } : {}) });

// An accepted elicitation response, or undefined when the response is
// missing or malformed (SEP-2322: re-ask rather than fail).
function accepted(resp) {
  return resp && typeof resp === 'object' && resp.action === 'accept' && resp.content && typeof resp.content === 'object' ? resp.content : undefined;
}

// An elicitation with requestedSchema; done once the client answered.
function elicitTool(description, requestedSchema, message, label, inputSchema) {
  return {
    description,
    inputSchema,
    run: (p) => {
      const r = p.inputResponses?.answer;
      if (r && typeof r === 'object' && typeof r.action === 'string') {
        return { content: [text(`${label}: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)] };
      }
      return inputRequired({ answer: { method: 'elicitation/create', params: { message: message(p), requestedSchema } } });
    },
  };
}

const STATELESS_TOOLS = {
  ...Object.fromEntries(Object.entries(PLAIN_TOOLS).map(([n, t]) => [n, { description: t.description, run: t.run }])),
  test_tool_with_progress: {
    description: 'Reports progress 0, 50, 100 of 100',
    run: async (_p, ctx) => {
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await sleep(50);
        if (ctx.progressToken !== undefined) ctx.notify('notifications/progress', { progressToken: ctx.progressToken, progress, total: 100 });
      }
      return { content: [text('Progress tool completed')] };
    },
  },
  [SCHEMA_TOOL]: {
    description: 'Has a JSON Schema 2020-12 input schema',
    inputSchema: SCHEMA_2020_12,
    run: () => ({ content: [text('schema tool called')] }),
  },
  test_header_param: {
    description: 'Mirrors its region argument in the Mcp-Param-Region header (SEP-2243)',
    inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } }, required: ['region'] },
    run: (p) => ({ content: [text(`region ${p.arguments?.region}`)] }),
  },
  test_tool_with_logging: {
    description: 'Logs three messages while it runs',
    run: async (_p, ctx) => {
      for (const [i, data] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
        if (i > 0) await sleep(50);
        if (ctx.logLevel) ctx.notify('notifications/message', { level: 'info', data });
      }
      return { content: [text('Logging tool completed')] };
    },
  },
  test_reconnection: {
    // Streams are per request in 2026-07-28: there is nothing to resume.
    description: 'Closes its SSE stream before answering',
    run: () => ({ content: [text('Reconnection tool completed')] }),
  },
  test_sampling: {
    description: 'Asks the client to sample',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
    run: (p) => {
      const r = p.inputResponses?.sample;
      if (r && typeof r === 'object' && r.content) return { content: [text(`LLM response: ${r.content.text ?? JSON.stringify(r.content)}`)] };
      return inputRequired({ sample: sample(String(p.arguments?.prompt ?? ''), 100) });
    },
  },
  test_elicitation: elicitTool('Asks the user for input', ELICIT_USER, (p) => String(p.arguments?.message ?? ''), 'User response',
    { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] }),
  test_elicitation_sep1034_defaults: elicitTool('Elicits with defaults for every primitive type', ELICIT_DEFAULTS,
    () => 'Please review your information', 'Elicitation completed'),
  test_elicitation_sep1330_enums: elicitTool('Elicits with every enum schema variant', ELICIT_ENUMS,
    () => 'Please pick your options', 'Elicitation completed'),
  test_logging_tool: {
    description: 'Logs only when the request asks for a log level',
    run: async (_p, ctx) => {
      if (ctx.logLevel) ctx.notify('notifications/message', { level: 'info', data: 'test_logging_tool ran' });
      return { content: [text('Logging tool completed')] };
    },
  },
  test_missing_capability: {
    description: 'Needs the client sampling capability',
    run: (_p, ctx) => {
      if (!ctx.caps.sampling) throw new RpcError(-32021, 'Missing required client capability: sampling', { requiredCapabilities: { sampling: {} } });
      return { content: [text('client declared sampling')] };
    },
  },
  test_streaming_elicitation: {
    description: 'Asks for input with an input_required result, never with a request on the stream',
    run: (p) => (accepted(p.inputResponses?.answer)
      ? { content: [text('answered')] }
      : inputRequired({ answer: elicit('Anything to add?', { note: { type: 'string' } }, ['note']) })),
  },
  test_input_required_result_elicitation: {
    description: 'SEP-2322: one elicitation round',
    run: (p) => {
      const c = accepted(p.inputResponses?.user_name);
      if (c && typeof c.name === 'string') return { content: [text(`Hello, ${c.name}!`)] };
      return inputRequired({ user_name: elicit('What is your name?', { name: { type: 'string' } }, ['name']) });
    },
  },
  test_input_required_result_sampling: {
    description: 'SEP-2322: one sampling round',
    run: (p) => {
      const r = p.inputResponses?.capital_question;
      if (r && typeof r === 'object' && r.content) return { content: [text(`Sampled: ${r.content.text ?? ''}`)] };
      return inputRequired({ capital_question: sample('What is the capital of France?', 100) });
    },
  },
  test_input_required_result_list_roots: {
    description: 'SEP-2322: one roots/list round',
    run: (p) => {
      const r = p.inputResponses?.client_roots;
      if (r && Array.isArray(r.roots)) return { content: [text(`Roots: ${r.roots.map((x) => x.uri).join(', ')}`)] };
      return inputRequired({ client_roots: ROOTS });
    },
  },
  test_input_required_result_request_state: {
    description: 'SEP-2322: requestState round trip',
    run: (p) => {
      const st = p.requestState === undefined ? undefined : openState(p.requestState);
      if (p.requestState !== undefined && !st) throw new RpcError(-32602, 'requestState failed its integrity check');
      if (st?.tool === 'request_state' && accepted(p.inputResponses?.confirm)) return { content: [text('state-ok: confirmed')] };
      return inputRequired({ confirm: elicit('Please confirm', { ok: { type: 'boolean' } }, ['ok']) }, sealState({ tool: 'request_state' }));
    },
  },
  test_input_required_result_multiple_inputs: {
    description: 'SEP-2322: three input requests at once',
    run: (p) => {
      const st = p.requestState === undefined ? undefined : openState(p.requestState);
      if (p.requestState !== undefined && !st) throw new RpcError(-32602, 'requestState failed its integrity check');
      const ir = p.inputResponses ?? {};
      if (st && accepted(ir.user_name) && ir.greeting?.content && Array.isArray(ir.client_roots?.roots)) {
        return { content: [text(`All inputs received for ${accepted(ir.user_name).name}`)] };
      }
      return inputRequired({
        user_name: elicit('What is your name?', { name: { type: 'string' } }, ['name']),
        greeting: sample('Generate a greeting', 50),
        client_roots: ROOTS,
      }, sealState({ tool: 'multiple_inputs' }));
    },
  },
  test_input_required_result_multi_round: {
    description: 'SEP-2322: two rounds with evolving requestState',
    run: (p) => {
      const st = p.requestState === undefined ? undefined : openState(p.requestState);
      if (p.requestState !== undefined && !st) throw new RpcError(-32602, 'requestState failed its integrity check');
      const ir = p.inputResponses ?? {};
      if (st?.round === 2 && accepted(ir.step2)) return { content: [text(`Done: ${st.name} likes ${accepted(ir.step2).color}`)] };
      if (st?.round === 1 && accepted(ir.step1)) {
        return inputRequired({ step2: elicit('Step 2: What is your favorite color?', { color: { type: 'string' } }, ['color']) },
          sealState({ round: 2, name: accepted(ir.step1).name }));
      }
      return inputRequired({ step1: elicit('Step 1: What is your name?', { name: { type: 'string' } }, ['name']) }, sealState({ round: 1 }));
    },
  },
  test_input_required_result_tampered_state: {
    description: 'SEP-2322: HMAC-protected requestState',
    run: (p) => {
      if (p.requestState !== undefined) {
        if (!openState(p.requestState)) throw new RpcError(-32602, 'requestState failed its integrity check');
        if (accepted(p.inputResponses?.confirm)) return { content: [text('state verified')] };
      }
      return inputRequired({ confirm: elicit('Please confirm', { ok: { type: 'boolean' } }, ['ok']) }, sealState({ tool: 'tampered' }));
    },
  },
  test_input_required_result_capabilities: {
    description: 'SEP-2322: asks only for what the client declared',
    run: (p, ctx) => {
      const reqs = {};
      if (ctx.caps.elicitation) reqs.user_name = elicit('What is your name?', { name: { type: 'string' } }, ['name']);
      if (ctx.caps.sampling) reqs.greeting = sample('Generate a greeting', 50);
      if (ctx.caps.roots) reqs.client_roots = ROOTS;
      if (p.inputResponses && Object.keys(reqs).every((k) => p.inputResponses[k] !== undefined)) return { content: [text('capabilities respected')] };
      if (Object.keys(reqs).length === 0) return { content: [text('client declared no input capability')] };
      return inputRequired(reqs);
    },
  },
};

const IR_PROMPT = 'test_input_required_result_prompt';
const IR_PROMPT_DESCRIPTION = 'SEP-2322: a prompt that asks for context';
const EMPTY_SCHEMA = { type: 'object', properties: {} };
// Caching hints (SEP-2549): nothing here depends on who asks, so every
// cacheable result is public.
const CACHE = { ttlMs: 60000, cacheScope: 'public' };

const STATELESS_METHODS = {
  'server/discover': () => ({
    supportedVersions: [STATELESS],
    capabilities: { tools: {}, resources: {}, prompts: {}, completions: {} },
    serverInfo: SERVER_INFO,
    _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
  }),
  'tools/list': () => ({
    tools: Object.entries(STATELESS_TOOLS).map(([name, t]) => ({ name, description: t.description, inputSchema: t.inputSchema ?? EMPTY_SCHEMA })),
    ...CACHE,
  }),
  'tools/call': async (p, ctx) => {
    const t = STATELESS_TOOLS[p?.name];
    if (!t) throw new RpcError(-32602, `Unknown tool: ${p?.name}`);
    return t.run(p, ctx);
  },
  'resources/list': () => ({
    resources: Object.entries(RESOURCES).map(([uri, r]) => ({ uri, name: r.name, description: r.description, mimeType: r.mimeType })),
    ...CACHE,
  }),
  'resources/templates/list': () => ({ resourceTemplates: [TEMPLATE], ...CACHE }),
  'resources/read': (p) => {
    const uri = p?.uri;
    if (RESOURCES[uri]) return { contents: [RESOURCES[uri].read(uri)], ...CACHE };
    const m = typeof uri === 'string' && TEMPLATE_RE.exec(uri);
    if (m) return { contents: [readTemplate(uri, m[1])], ...CACHE };
    throw new RpcError(-32602, 'Resource not found', { uri });
  },
  'prompts/list': () => ({
    prompts: [
      ...Object.entries(PROMPTS).map(([name, p]) => ({ name, description: p.description, arguments: p.arguments })),
      { name: IR_PROMPT, description: IR_PROMPT_DESCRIPTION, arguments: [] },
    ],
    ...CACHE,
  }),
  'prompts/get': (p) => {
    if (p?.name === IR_PROMPT) {
      const c = accepted(p.inputResponses?.user_context);
      if (c) return { messages: [{ role: 'user', content: text(`Context: ${c.context}`) }] };
      return inputRequired({ user_context: elicit('What context should the prompt use?', { context: { type: 'string' } }, ['context']) });
    }
    const pr = PROMPTS[p?.name];
    if (!pr) throw new RpcError(-32602, `Unknown prompt: ${p?.name}`);
    return pr.get(p.arguments ?? {});
  },
  'completion/complete': (p) => complete(p?.argument?.name, p?.argument?.value),
};

// SEP-2243 custom headers: each argument whose schema property names an
// x-mcp-header must arrive in Mcp-Param-<name> too, literally or as
// =?base64?…?= (strict Base64), and equal the body's value.
function checkParamHeaders(req, params) {
  const props = STATELESS_TOOLS[params?.name]?.inputSchema?.properties ?? {};
  for (const [arg, schema] of Object.entries(props)) {
    const name = schema['x-mcp-header'];
    const value = params.arguments?.[arg];
    if (name === undefined || value === undefined) continue;
    const raw = req.headers[`mcp-param-${name.toLowerCase()}`];
    if (raw === undefined) throw new RpcError(-32020, `Missing Mcp-Param-${name} header`);
    let got = raw.trim();
    const m = /^=\?base64\?(.*)\?=$/.exec(got);
    if (m) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(m[1]) || m[1].length % 4 !== 0) throw new RpcError(-32020, `Mcp-Param-${name} is not valid Base64`);
      got = Buffer.from(m[1], 'base64').toString('utf8');
    }
    if (got !== String(value)) throw new RpcError(-32020, `Mcp-Param-${name} header does not match arguments.${arg}`);
  }
}

function stateless(req, res, body) {
  const id = body && typeof body === 'object' && 'id' in body ? body.id : null;
  const header = req.headers['mcp-protocol-version'];
  try {
    if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.method !== 'string') {
      throw new RpcError(-32600, 'Invalid Request');
    }
    if (id === null || id === undefined) { // a notification: nothing to answer
      res.writeHead(202).end();
      return;
    }
    if (!header) throw new RpcError(-32020, 'Missing MCP-Protocol-Version header');
    const meta = body.params?._meta;
    if (!meta || typeof meta !== 'object') throw new RpcError(-32602, 'Missing params._meta');
    const version = meta['io.modelcontextprotocol/protocolVersion'];
    if (typeof version !== 'string') throw new RpcError(-32602, 'Missing _meta io.modelcontextprotocol/protocolVersion');
    if (version !== header) throw new RpcError(-32020, `MCP-Protocol-Version header ${header} does not match _meta protocolVersion ${version}`);
    if (version !== STATELESS) {
      // UnsupportedProtocolVersionError, as the 2026-07-28 schema defines it.
      throw new RpcError(-32022, 'Unsupported protocol version', { supported: [STATELESS], requested: version });
    }
    const caps = meta['io.modelcontextprotocol/clientCapabilities'];
    if (!caps || typeof caps !== 'object') throw new RpcError(-32602, 'Missing _meta io.modelcontextprotocol/clientCapabilities');
    // SEP-2243: Mcp-Method on every request and Mcp-Name on the named
    // ones are required and must match the body, values compared exactly
    // after trimming the whitespace HTTP allows around them.
    const mh = req.headers['mcp-method'];
    if (mh === undefined) throw new RpcError(-32020, 'Missing Mcp-Method header');
    if (mh.trim() !== body.method) throw new RpcError(-32020, `Mcp-Method header ${mh} does not match method ${body.method}`);
    const named = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' }[body.method];
    if (named) {
      const nh = req.headers['mcp-name'];
      if (nh === undefined) throw new RpcError(-32020, 'Missing Mcp-Name header');
      if (nh.trim() !== body.params?.[named]) throw new RpcError(-32020, `Mcp-Name header ${nh} does not match params.${named}`);
    }
    if (body.method === 'tools/call') checkParamHeaders(req, body.params);
    const handler = Object.hasOwn(STATELESS_METHODS, body.method) ? STATELESS_METHODS[body.method] : undefined;
    if (!handler) throw new RpcError(-32601, `Method not found: ${body.method}`, undefined, 404);

    // Notifications for this request (progress, logs) need an SSE response;
    // open it lazily on the first one, so plain answers stay JSON.
    let sse = false;
    const ctx = {
      caps,
      progressToken: meta.progressToken,
      logLevel: meta['io.modelcontextprotocol/logLevel'],
      notify: (method, params) => {
        if (!sse) { res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }); sse = true; }
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method, params })}\n\n`);
      },
    };
    Promise.resolve()
      .then(() => handler(body.params, ctx))
      .then((result) => {
        const msg = { jsonrpc: '2.0', id, result: { resultType: 'complete', ...result } };
        if (sse) res.end(`event: message\ndata: ${JSON.stringify(msg)}\n\n`);
        else send(res, 200, msg);
      }, (err) => {
        const e = err instanceof RpcError ? err : new RpcError(-32603, String(err?.message ?? err), undefined, 500);
        const msg = { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data ? { data: e.data } : {}) } };
        if (sse) res.end(`event: message\ndata: ${JSON.stringify(msg)}\n\n`);
        else send(res, e.status, msg);
      });
  } catch (err) {
    const e = err instanceof RpcError ? err : new RpcError(-32603, String(err?.message ?? err), undefined, 500);
    jsonrpcError(res, e.status, id, e.code, e.message, e.data);
  }
}

// ---- HTTP ----------------------------------------------------------------

function send(res, status, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) }).end(b);
}
function jsonrpcError(res, status, id, code, message, data) {
  send(res, status, { jsonrpc: '2.0', id, error: { code, message, ...(data ? { data } : {}) } });
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
function loopbackHost(hostport) {
  if (typeof hostport !== 'string' || hostport === '') return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostport.toLowerCase());
  return !!m && LOOPBACK.has(m[1]);
}
function rebindingOK(req) {
  if (!loopbackHost(req.headers.host)) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try { return loopbackHost(new URL(origin).host); } catch { return false; }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => { n += c.length; if (n > 4 << 20) { reject(new Error('body too large')); req.destroy(); } else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

const httpServer = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname !== '/mcp') return jsonrpcError(res, 404, null, -32601, 'Not found');
    if (!rebindingOK(req)) return jsonrpcError(res, 403, null, -32000, 'Forbidden: Host or Origin is not a loopback address');
    let body;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      try { body = JSON.parse(raw); } catch { return jsonrpcError(res, 400, null, -32700, 'Parse error'); }
    }
    // Tests tell which requests reached the server by these lines.
    if (body?.method === 'initialize') process.stderr.write(`E2E_INITIALIZE ${JSON.stringify(body.params?.clientInfo?.name ?? '')}\n`);
    const sid = req.headers['mcp-session-id'];
    const isStateless = req.method === 'POST' && !sid && body && typeof body === 'object' && !Array.isArray(body) &&
      (req.headers['mcp-protocol-version'] === STATELESS || (body.params && typeof body.params === 'object' && '_meta' in body.params));
    if (isStateless) return stateless(req, res, body);
    if (!sid && req.method === 'POST' && body?.method !== 'initialize' && req.headers['mcp-protocol-version'] &&
        !SESSION_VERSIONS.includes(req.headers['mcp-protocol-version'])) {
      return jsonrpcError(res, 400, body?.id ?? null, -32022, 'Unsupported protocol version',
        { supported: [STATELESS, ...SESSION_VERSIONS], requested: req.headers['mcp-protocol-version'] });
    }
    return await handleSession(req, res, body);
  } catch (err) {
    if (!res.headersSent) jsonrpcError(res, 500, null, -32603, String(err?.message ?? err));
    else res.end();
  }
});

httpServer.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stderr.write(`E2E_LISTENING ${httpServer.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { httpServer.close(); process.exit(0); });
