// Headless Chromium publishes over WHIP and another Chromium page subscribes
// over WHEP through tandem-relay; both ends must show frames in getStats.
//
//   node browser_test.mjs --relay PATH --ice-address ADDR [--codecs vp8,vp9]
//                         [--frames N] [--no-audio] [--save-sdp DIR]
//
// Meant to run inside a network namespace that run_browser_test.sh creates
// (ICE gathers on ADDR only; the pages and the relay's HTTP API are on
// 127.0.0.1, a secure context for the browser). It starts, and stops by PID,
// the relay and a tiny static server for the pages; Playwright starts and
// stops Chromium. Prints "ok"/"FAIL" lines; exit status 0 when all passed,
// 1 otherwise.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const EVAL_TIMEOUT_MS = 30000;   // any single page.evaluate
const FRAMES_TIMEOUT_MS = 20000; // waiting for the subscriber's frames
const WATCHDOG_MS = 150000;      // the whole run

function parseArgs(argv) {
  const a = { codecs: ['VP8', 'VP9'], frames: 60, audio: true, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--relay') a.relay = v();
    else if (k === '--ice-address') a.iceAddress = v();
    else if (k === '--codecs') a.codecs = v().split(',').map((c) => c.trim().toUpperCase());
    else if (k === '--frames') a.frames = Number(v());
    else if (k === '--no-audio') a.audio = false;
    else if (k === '--save-sdp') a.saveSdp = v();
    else if (k === '--chromium') a.chromium = v();
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.relay || !a.iceAddress) throw new Error('--relay and --ice-address are required');
  if (!a.codecs.every((c) => c === 'VP8' || c === 'VP9')) throw new Error('--codecs: VP8 and/or VP9');
  if (!(a.frames > 0)) throw new Error('--frames must be a positive number');
  return a;
}

let failures = 0;
const ok = (what) => console.log(`ok   ${what}`);
const bad = (what) => { failures++; console.log(`FAIL ${what}`); };
const check = (cond, what) => (cond ? ok(what) : bad(what));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Every call into a page is bounded: a page that hangs (a picker, a stuck
// promise) must fail the test, not hang it.
const evaluate = (page, what, fn, arg) => withTimeout(page.evaluate(fn, arg), EVAL_TIMEOUT_MS, what);

// Serves page.html and client.js, nothing else.
function startPageServer() {
  const files = {
    '/': ['page.html', 'text/html'],
    '/page.html': ['page.html', 'text/html'],
    '/client.js': ['client.js', 'text/javascript'],
  };
  const server = createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    res.end(readFileSync(join(here, f[0])));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Starts the relay and resolves with its base URL once it prints it.
function startRelay(args, work, origin) {
  const secret = join(work, 'secret');
  writeFileSync(secret, randomBytes(32).toString('hex'));
  const proc = spawn(args.relay, ['serve', '--listen', '127.0.0.1:0', '--node-id', 'n1',
    '--secret-file', secret, '--local-address', args.iceAddress, '--cors-origin', origin],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const url = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.]+:[0-9]+)/);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`relay exited (${code}): ${err}`)));
  });
  return { proc, secret, url: withTimeout(url, 10000, 'relay start'), stderr: () => err };
}

function token(args, secret, session, participant, role) {
  return execFileSync(args.relay, ['token', '--secret-file', secret, '--session', session,
    '--participant', participant, '--role', role, '--node', 'n1'], { encoding: 'utf8' }).trim();
}

async function metrics(base) {
  const res = await withTimeout(fetch(`${base}/metrics`), 5000, 'GET /metrics');
  const text = await res.text();
  const value = (name) => {
    const m = text.match(new RegExp(`^${name} ([0-9.e+]+)$`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  return { text, value };
}

// Polls the subscriber until it decoded `frames` video frames (and, with
// audio, received Opus packets), or the bound passes; returns the last stats.
async function waitForFrames(page, frames, audio) {
  const deadline = Date.now() + FRAMES_TIMEOUT_MS;
  let s;
  for (;;) {
    s = await evaluate(page, 'subscriber stats', () => window.tandem.stats());
    const v = s.inbound.video;
    const a = s.inbound.audio;
    if (v && v.framesDecoded >= frames && (!audio || (a && a.packetsReceived > 0))) return s;
    if (Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function runCase(ctx, args, relayUrl, secret, codec) {
  const session = `browser-${codec.toLowerCase()}`;
  const started = Date.now();
  const pub = await ctx.newPage();
  const sub = await ctx.newPage();
  const pages = [pub, sub];
  for (const p of pages) {
    p.on('console', (m) => { if (m.type() === 'error') console.log(`  [page] ${m.text()}`); });
    await withTimeout(p.goto(ctx.pageUrl), EVAL_TIMEOUT_MS, 'load page');
  }
  const label = `${codec}${args.audio ? ' + Opus' : ''}`;
  try {
    const pubSdp = await evaluate(pub, 'publish', (o) => window.tandem.publish(o), {
      url: `${relayUrl}/whip/${session}`, token: token(args, secret, session, 'pub', 'publish'),
      codec, audio: args.audio,
    });
    ok(`${label}: WHIP publish connected`);
    const subSdp = await evaluate(sub, 'subscribe', (o) => window.tandem.subscribe(o), {
      url: `${relayUrl}/whep/${session}`, token: token(args, secret, session, 'sub', 'subscribe'),
      audio: args.audio,
    });
    ok(`${label}: WHEP subscribe connected`);
    if (args.saveSdp) {
      mkdirSync(args.saveSdp, { recursive: true });
      const base = join(args.saveSdp, `chromium_${codec.toLowerCase()}`);
      writeFileSync(`${base}_whip_offer.sdp`, pubSdp.offer);
      writeFileSync(`${base}_whip_answer.sdp`, pubSdp.answer);
      writeFileSync(`${base}_whep_offer.sdp`, subSdp.offer);
      writeFileSync(`${base}_whep_answer.sdp`, subSdp.answer);
    }

    const ss = await waitForFrames(sub, args.frames, args.audio);
    const ps = await evaluate(pub, 'publisher stats', () => window.tandem.stats());
    const pv = ps.outbound.video || {};
    const sv = ss.inbound.video || {};
    console.log(`  publisher: video ${JSON.stringify(pv)}`);
    console.log(`  publisher: transport ${JSON.stringify(ps.transport)}`);
    console.log(`  subscriber: video ${JSON.stringify(sv)}`);
    console.log(`  subscriber: transport ${JSON.stringify(ss.transport)}`);
    check(pv.framesEncoded > 0 && pv.packetsSent > 0,
      `${label}: publisher encoded ${pv.framesEncoded} frames, sent ${pv.packetsSent} packets`);
    check(pv.codec === `video/${codec}`, `${label}: publisher sends ${pv.codec}`);
    check(sv.framesDecoded >= args.frames,
      `${label}: subscriber decoded ${sv.framesDecoded} frames (want >= ${args.frames}) ` +
      `${sv.frameWidth}x${sv.frameHeight}`);
    check(sv.codec === `video/${codec}`, `${label}: subscriber decodes ${sv.codec}`);
    if (args.audio) {
      const pa = ps.outbound.audio || {};
      const sa = ss.inbound.audio || {};
      console.log(`  subscriber: audio ${JSON.stringify(sa)}`);
      check(pa.packetsSent > 0 && pa.codec === 'audio/opus',
        `${label}: publisher sent ${pa.packetsSent} ${pa.codec} packets`);
      check(sa.packetsReceived > 0 && sa.codec === 'audio/opus',
        `${label}: subscriber received ${sa.packetsReceived} ${sa.codec} packets`);
    }
    const m = await metrics(relayUrl);
    const pin = m.value('tandem_relay_packets_in_total');
    const pout = m.value('tandem_relay_packets_out_total');
    check(pin > 0 && pout > 0, `${label}: relay /metrics packets in ${pin}, out ${pout}`);
    for (const [who, p] of [['publisher', pub], ['subscriber', sub]]) {
      const st = await evaluate(p, `${who} close`, () => window.tandem.close());
      check(st === 200 || st === 204, `${label}: ${who} DELETE answered ${st}`);
    }
  } catch (e) {
    bad(`${label}: ${e.message}`);
    for (const [who, p] of [['publisher', pub], ['subscriber', sub]]) {
      try {
        const log = await evaluate(p, 'log', () => window.tandem.log);
        console.log(`  ${who} log:\n    ${log.join('\n    ')}`);
      } catch { /* the page is gone */ }
    }
  } finally {
    for (const p of pages) await p.close().catch(() => {});
    console.log(`  ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'tdm-browser-'));
  let relay = null;
  let server = null;
  let ctx = null;
  // Whatever happens (an exception, a signal, the watchdog), the relay goes
  // by its PID; Playwright closes Chromium on exit itself.
  const stopRelay = () => { if (relay && relay.proc.exitCode === null) relay.proc.kill('SIGKILL'); };
  process.on('exit', stopRelay);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopRelay(); process.exit(1); });
  const watchdog = setTimeout(() => { console.log(`FAIL watchdog: run over ${WATCHDOG_MS} ms`); stopRelay(); process.exit(1); }, WATCHDOG_MS);
  try {
    server = await startPageServer();
    const origin = `http://127.0.0.1:${server.address().port}`;
    relay = startRelay(args, work, origin);
    const relayUrl = await relay.url;
    ok(`relay listening on ${relayUrl}, ICE on ${args.iceAddress}`);
    ctx = await withTimeout(chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: args.chromium,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // Raw host candidates instead of mDNS names, which libnice cannot resolve.
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        // Hidden pages still get timers and media at full rate.
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows', '--autoplay-policy=no-user-gesture-required',
      ],
    }), 30000, 'launch Chromium');
    ctx.pageUrl = `${origin}/page.html`;
    ok(`Chromium ${ctx.browser() ? ctx.browser().version() : ''} launched`.trim());
    for (const codec of args.codecs) await runCase(ctx, args, relayUrl, relay.secret, codec);
    const m = await metrics(relayUrl);
    check(m.value('tandem_relay_endpoints') === 0, 'every resource was deleted on the relay');
  } catch (e) {
    bad(e.message);
    if (relay) console.log(`  relay stderr: ${relay.stderr()}`);
  } finally {
    clearTimeout(watchdog);
    if (ctx) await withTimeout(ctx.close(), 10000, 'close Chromium').catch((e) => bad(e.message));
    if (server) server.close();
    stopRelay();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${failures} failure(s)`);
  process.exit(failures ? 1 : 0);
}

main();
