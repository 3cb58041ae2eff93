// Runs @modelcontextprotocol/server-everything in streamableHttp mode, bound
// to 127.0.0.1 on the port in $PORT (0 = any free port), and reports the port
// it got on stderr as "E2E_LISTENING <port>" so the Go tests need not guess a
// free port. The server itself calls app.listen(PORT) on all interfaces; we
// pin the host by wrapping net.Server.prototype.listen before loading it.
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';

const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && (typeof args[0] === 'number' || typeof args[0] === 'string') &&
      (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1');
  }
  this.once('listening', () => {
    const a = this.address();
    if (a && typeof a === 'object') process.stderr.write(`E2E_LISTENING ${a.port}\n`);
  });
  return origListen.apply(this, args);
};

const require = createRequire(import.meta.url);
const pkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
process.argv = [process.argv[0], 'index.js', 'streamableHttp'];
await import(path.join(path.dirname(pkg), 'dist', 'index.js'));
