// A minimal upstream for benchmarks when Postfix's smtp-sink is not installed: accepts and discards.
import { SMTPServer } from 'smtp-server';

const port = Number(process.argv[2] ?? 2626);
let count = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, cb) {
    stream.on('end', () => {
      count++;
      cb(null, 'OK');
    });
    stream.resume();
  },
});
server.on('error', () => undefined);
server.listen(port, '127.0.0.1', () => process.stdout.write(`sink listening on ${port}\n`));
process.on('SIGTERM', () => {
  process.stdout.write(`sink received ${count} messages\n`);
  process.exit(0);
});
