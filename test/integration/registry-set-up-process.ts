// One process of test/integration/registry-race.test.ts: sets up schema-registry subjects the way a
// controller sets up a job's subject (`createRegistryCodec`), each time the test says "go" on stdin,
// so several processes reach the registry at the same instant. Answers one JSON line per round.
import { createInterface } from 'node:readline';
import { errorMessage } from '@p2m/core';
import { createRegistryCodec } from '@p2m/kafka';

const url = process.argv[2]!;
// Open the connection pool first, so the first round's requests are not spread by connect times.
await fetch(`${url}/subjects`).then((r) => r.text());
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const topics = line.split(',').filter(Boolean);
  const results = await Promise.all(
    topics.map((topic) =>
      createRegistryCodec({ url, topic }).then(
        (codec) => ({ topic, id: codec.schemaId }),
        (err: unknown) => ({ topic, error: errorMessage(err) }),
      ),
    ),
  );
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
