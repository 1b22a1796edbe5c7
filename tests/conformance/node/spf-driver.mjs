// Drive mailauth's SPF implementation in batch against one DNS server on 127.0.0.1.
//
//   node spf-driver.mjs PORT  < queries.jsonl  > results.jsonl
//
// Reads {"ip", "mailfrom", "helo"} JSON lines, writes one {"result", "detail"} line per
// query: mailauth's status.result and its comment. mailauth takes a `resolver(name, rrtype)`
// with the contract of dns.promises.resolve; a Resolver whose only server is
// 127.0.0.1:PORT keeps every query on loopback.
import { createInterface } from 'node:readline';
import { Resolver } from 'node:dns/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { spf } = require('mailauth/lib/spf');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
    console.error('usage: node spf-driver.mjs PORT');
    process.exit(2);
}

const dns = new Resolver({ timeout: 2000, tries: 1 });
dns.setServers([`127.0.0.1:${port}`]);
const resolver = (name, rrtype) => dns.resolve(name, rrtype);

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
    if (!line.trim()) {
        continue;
    }
    const { ip, mailfrom, helo } = JSON.parse(line);
    let outcome;
    try {
        const response = await spf({ sender: mailfrom, ip, helo, mta: 'receiver.example', resolver });
        outcome = { result: response.status.result, detail: response.status.comment || '' };
    } catch (err) {
        outcome = { result: 'exception', detail: String(err && err.stack ? err.stack : err) };
    }
    process.stdout.write(JSON.stringify(outcome) + '\n');
}
