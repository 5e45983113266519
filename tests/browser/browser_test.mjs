// Headless Chromium publishes over WHIP and another Chromium page subscribes
// over WHEP through tandem-relay; both ends must show frames in getStats.
//
//   node browser_test.mjs --relay PATH --ice-address ADDR [--frames N]
//                         [--no-audio] [--save-sdp DIR] [--chromium PATH]
//
// Two cases, each with its own session and both pages fresh:
//   VP8 + Opus: a canvas; the publisher comes first. The relay is the DTLS
//     server (it answers Chromium's actpass with passive) and may pick
//     either SRTP profile, so Chromium and OpenSSL settle on
//     AEAD_AES_128_GCM. Offers carry every candidate, and a data channel
//     (m=application) the relay must reject while taking the media. Then
//     both pages restart ICE through PATCH and video must keep coming.
//   VP9 + Opus: the fake 1280x720 screen of getDisplayMedia; the subscriber
//     joins first and waits (a rep waiting for the customer). Audio is the
//     first m-line (the BUNDLE tag). Both offers reach the relay as
//     setup:passive, so the relay is the DTLS client; that relay runs with
//     TDM_SRTP_PROFILE=SRTP_AES128_CM_SHA1_80, so AES_CM_128_HMAC_SHA1_80.
//     Offers go out before gathering; candidates trickle in PATCHes. The
//     subscriber's REMB must reach the publisher.
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
import { bad, check, configure, evaluate, failureCount, ok, withTimeout } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const EVAL_TIMEOUT_MS = 30000;   // any single page.evaluate
const FRAMES_TIMEOUT_MS = 20000; // waiting for the subscriber's frames
const REMB_TIMEOUT_MS = 20000;   // Chromium's first REMB
const WATCHDOG_MS = 150000;      // the whole run

function parseArgs(argv) {
  const a = { frames: 60, audio: true, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--relay') a.relay = v();
    else if (k === '--ice-address') a.iceAddress = v();
    else if (k === '--frames') a.frames = Number(v());
    else if (k === '--no-audio') a.audio = false;
    else if (k === '--save-sdp') a.saveSdp = v();
    else if (k === '--chromium') a.chromium = v();
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.relay || !a.iceAddress) throw new Error('--relay and --ice-address are required');
  if (!(a.frames > 0)) throw new Error('--frames must be a positive number');
  return a;
}

// Every call into a page is bounded: a page that hangs (a picker, a stuck
// promise) must fail the test, not hang it.
configure({ evalMs: EVAL_TIMEOUT_MS });

// Serves page.html and client.js, nothing else.
function startPageServer() {
  const files = {
    '/': ['page.html', 'text/html'],
    '/page.html': ['page.html', 'text/html'],
    '/client.js': ['client.js', 'text/javascript'],
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const f = files[path];
    if (!f) {
      res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
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
function startRelay(args, work, origin, env) {
  const secret = join(work, 'secret');
  writeFileSync(secret, randomBytes(32).toString('hex'));
  const proc = spawn(args.relay, ['serve', '--listen', '127.0.0.1:0', '--node-id', 'n1',
    '--secret-file', secret, '--local-address', args.iceAddress, '--cors-origin', origin],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
    const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = text.match(new RegExp(`^${quoted} ([0-9.e+]+)$`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  return { text, value };
}

// Polls the subscriber until it decoded `frames` video frames (and, with
// audio, decoded Opus samples), or the bound passes; returns the last stats.
async function waitForFrames(page, frames, audio) {
  const deadline = Date.now() + FRAMES_TIMEOUT_MS;
  let s;
  for (;;) {
    s = await evaluate(page, 'subscriber stats', () => window.tandem.stats());
    const v = s.inbound.video;
    const a = s.inbound.audio;
    if (v && v.framesDecoded >= frames && (!audio || (a && a.totalSamplesReceived > 0))) return s;
    if (Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const CASES = [
  { codec: 'VP8', relay: 'default', subscriberFirst: false, relayDtlsClient: false,
    dataChannel: true, iceRestart: true, cipher: 'SRTP_AEAD_AES_128_GCM' },
  { codec: 'VP9', relay: 'aes_cm', subscriberFirst: true, relayDtlsClient: true, trickle: true,
    source: 'display', audioFirst: true, remb: true, cipher: 'SRTP_AES128_CM_HMAC_SHA1_80' },
];
const RELAY_ENV = {
  default: {},
  aes_cm: { TDM_SRTP_PROFILE: 'SRTP_AES128_CM_SHA1_80' },
};

// Every trickled candidate and the end-of-candidates were taken (204).
function checkTrickle(c, who, statuses) {
  if (!c.trickle) return;
  check(statuses.length >= 2 && statuses.every((st) => st === 204),
    `${c.label}: ${who} trickled ${statuses.length - 1} candidate(s) and the end, PATCH ` +
    `answered ${[...new Set(statuses)].join(',')}`);
}

async function publish(page, args, relay, c, session) {
  const sdp = await evaluate(page, 'publish', (o) => window.tandem.publish(o), {
    url: `${relay.base}/whip/${session}`, token: token(args, relay.secret, session, 'pub', 'publish'),
    codec: c.codec, audio: args.audio, source: c.source, dtlsServer: c.relayDtlsClient,
    trickle: !!c.trickle, dataChannel: !!c.dataChannel, audioFirst: !!c.audioFirst,
  });
  ok(`${c.label}: WHIP publish connected`);
  checkTrickle(c, 'publisher', sdp.trickled);
  return sdp;
}

async function subscribe(page, args, relay, c, session) {
  const sdp = await evaluate(page, 'subscribe', (o) => window.tandem.subscribe(o), {
    url: `${relay.base}/whep/${session}`, token: token(args, relay.secret, session, 'sub', 'subscribe'),
    audio: args.audio, dtlsServer: c.relayDtlsClient, trickle: !!c.trickle,
    dataChannel: !!c.dataChannel, audioFirst: !!c.audioFirst,
  });
  ok(`${c.label}: WHEP subscribe connected`);
  checkTrickle(c, 'subscriber', sdp.trickled);
  return sdp;
}

// The assertions of one case on both pages' getStats and the relay's /metrics.
async function assertMedia(pub, sub, args, relay, c) {
  const label = c.label;
  const ss = await waitForFrames(sub, args.frames, args.audio);
  const ps = await evaluate(pub, 'publisher stats', () => window.tandem.stats());
  const pv = ps.outbound.video || {};
  const sv = ss.inbound.video || {};
  console.log(`  publisher video: ${JSON.stringify(pv)}`);
  console.log(`  subscriber video: ${JSON.stringify(sv)}`);
  check(pv.framesEncoded > 0 && pv.packetsSent > 0,
    `${label}: publisher encoded ${pv.framesEncoded} frames, sent ${pv.packetsSent} packets`);
  check(pv.codec === `video/${c.codec}`, `${label}: publisher sends ${pv.codec}`);
  check(sv.framesDecoded >= args.frames,
    `${label}: subscriber decoded ${sv.framesDecoded} frames (want >= ${args.frames}), ` +
    `${sv.frameWidth}x${sv.frameHeight}`);
  check(sv.codec === `video/${c.codec}`, `${label}: subscriber decodes ${sv.codec}`);
  if (args.audio) {
    const pa = ps.outbound.audio || {};
    const sa = ss.inbound.audio || {};
    console.log(`  subscriber audio: ${JSON.stringify(sa)}`);
    check(pa.packetsSent > 0 && pa.codec === 'audio/opus',
      `${label}: publisher sent ${pa.packetsSent} ${pa.codec} packets`);
    check(sa.packetsReceived > 0 && sa.totalSamplesReceived > 0 && sa.codec === 'audio/opus',
      `${label}: subscriber received ${sa.packetsReceived} ${sa.codec} packets, ` +
      `decoded ${sa.totalSamplesReceived} samples`);
  }
  // Chromium's side of the DTLS association: its role is the opposite of
  // the relay's, and the SRTP profile is what the relay allowed.
  const role = c.relayDtlsClient ? 'server' : 'client';
  for (const [who, s] of [['publisher', ps], ['subscriber', ss]]) {
    const t = s.transport || {};
    console.log(`  ${who} transport: ${JSON.stringify(t)}`);
    check(t.dtlsState === 'connected' && t.dtlsRole === role && t.srtpCipher === c.cipher,
      `${label}: ${who} DTLS ${t.dtlsState}, Chromium is the ${t.dtlsRole}, SRTP ${t.srtpCipher}`);
  }
  const m = await metrics(relay.base);
  const pin = m.value('tandem_relay_packets_in_total');
  const pout = m.value('tandem_relay_packets_out_total');
  const srtpFail = m.value('tandem_relay_srtp_failures_total');
  // Informative: how much feedback went through the relay.
  const fb = ['plis_in_total', 'plis_out_total', 'nacks_total', 'retransmissions_total',
    'rembs_out_total', 'drops_total{reason="unknown_stream"}']
    .map((n) => `${n} ${m.value(`tandem_relay_${n}`)}`);
  console.log(`  relay: ${fb.join(', ')}`);
  check(pin > 0 && pout > 0, `${label}: relay /metrics packets in ${pin}, out ${pout}`);
  check(srtpFail === 0, `${label}: relay /metrics SRTP failures ${srtpFail}`);
  if (c.remb) await assertRemb(relay, label);
}

// Chromium's receive-side estimate (REMB) from the subscriber reaches the
// publisher through the relay. Chromium sends its first REMB only after
// some seconds of video, hence the wait.
async function assertRemb(relay, label) {
  const started = Date.now();
  let n = 0;
  while (Date.now() - started < REMB_TIMEOUT_MS) {
    n = (await metrics(relay.base)).value('tandem_relay_rembs_out_total');
    if (n > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  check(n > 0, `${label}: relay passed ${n} REMB(s) to the publisher ` +
    `(first after ${((Date.now() - started) / 1000).toFixed(1)} s more)`);
}

// Publisher, then subscriber, restart ICE through their resources (PATCH
// with new credentials); afterwards the subscriber must decode RESTART_FRAMES
// more frames, so media runs on the new ICE sessions on both legs.
const RESTART_FRAMES = 30;
async function assertIceRestart(pub, sub, c) {
  for (const [who, p] of [['publisher', pub], ['subscriber', sub]]) {
    const r = await evaluate(p, `${who} ICE restart`, () => window.tandem.restartIce());
    check(r.status === 200 && r.etag && r.candidates > 0,
      `${c.label}: ${who} ICE restart answered ${r.status}, ETag ${r.etag}, ` +
      `${r.candidates} relay candidate(s); connected on the new credentials`);
  }
  const before = (await evaluate(sub, 'subscriber stats', () => window.tandem.stats())).inbound.video;
  const s = await waitForFrames(sub, before.framesDecoded + RESTART_FRAMES, false);
  const after = s.inbound.video.framesDecoded;
  check(after >= before.framesDecoded + RESTART_FRAMES,
    `${c.label}: subscriber decoded ${after - before.framesDecoded} more frames after the restarts`);
}

async function runCase(ctx, args, relay, c) {
  const session = `browser-${c.codec.toLowerCase()}`;
  const started = Date.now();
  const pub = await ctx.newPage();
  const sub = await ctx.newPage();
  const pages = [['publisher', pub], ['subscriber', sub]];
  for (const [, p] of pages) {
    p.on('console', (m) => { if (m.type() === 'error') console.log(`  [page] ${m.text()}`); });
    await withTimeout(p.goto(ctx.pageUrl), EVAL_TIMEOUT_MS, 'load page');
  }
  try {
    let pubSdp;
    let subSdp;
    if (c.subscriberFirst) {
      subSdp = await subscribe(sub, args, relay, c, session);
      pubSdp = await publish(pub, args, relay, c, session);
    } else {
      pubSdp = await publish(pub, args, relay, c, session);
      subSdp = await subscribe(sub, args, relay, c, session);
    }
    if (args.saveSdp) {
      mkdirSync(args.saveSdp, { recursive: true });
      const base = join(args.saveSdp, `chromium_${c.codec.toLowerCase()}`);
      writeFileSync(`${base}_whip_offer.sdp`, pubSdp.offer);
      writeFileSync(`${base}_whip_answer.sdp`, pubSdp.answer);
      writeFileSync(`${base}_whep_offer.sdp`, subSdp.offer);
      writeFileSync(`${base}_whep_answer.sdp`, subSdp.answer);
    }
    await assertMedia(pub, sub, args, relay, c);
    if (c.iceRestart) await assertIceRestart(pub, sub, c);
    for (const [who, p] of pages) {
      const st = await evaluate(p, `${who} close`, () => window.tandem.close());
      check(st === 200 || st === 204, `${c.label}: ${who} DELETE answered ${st}`);
    }
  } catch (e) {
    bad(`${c.label}: ${e.message}`);
    for (const [who, p] of pages) {
      try {
        const log = await evaluate(p, 'log', () => window.tandem.log);
        console.log(`  ${who} log:\n    ${log.join('\n    ')}`);
        await evaluate(p, `${who} close`, () => window.tandem.close()); /* leave nothing behind */
      } catch { /* the page is gone */ }
    }
  } finally {
    for (const [, p] of pages) await p.close().catch(() => {});
    console.log(`  ${c.label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'tdm-browser-'));
  const relays = {};
  let server = null;
  let ctx = null;
  // Whatever happens (an exception, a signal, the watchdog), each relay goes
  // by its PID; Playwright closes Chromium on exit itself.
  const stopRelays = () => {
    for (const r of Object.values(relays)) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
  };
  process.on('exit', stopRelays);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopRelays();
      rmSync(work, { recursive: true, force: true });
      process.exit(1);
    });
  }
  const watchdog = setTimeout(() => {
    console.log(`FAIL watchdog: run over ${WATCHDOG_MS} ms`);
    stopRelays();
    process.exit(1);
  }, WATCHDOG_MS);
  try {
    server = await startPageServer();
    const origin = `http://127.0.0.1:${server.address().port}`;
    for (const [name, env] of Object.entries(RELAY_ENV)) {
      const dir = join(work, name);
      mkdirSync(dir);
      relays[name] = startRelay(args, dir, origin, env);
      relays[name].base = await relays[name].url;
      ok(`relay (${name}) listening on ${relays[name].base}, ICE on ${args.iceAddress}`);
    }
    ctx = await withTimeout(chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: args.chromium,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // Raw host candidates instead of mDNS names, which libnice cannot resolve.
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        // getDisplayMedia without a picker: a fake 1280x720 monitor. (With a
        // capture permission Chromium gathers on every interface; there is
        // only the namespace's veth pair to find.)
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
        // Pages in the background still get timers and media at full rate.
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows', '--autoplay-policy=no-user-gesture-required',
      ],
    }), 30000, 'launch Chromium');
    ctx.pageUrl = `${origin}/page.html`;
    ok(`Chromium ${ctx.browser() ? ctx.browser().version() : ''} launched`.replace('  ', ' '));
    for (const c of CASES) {
      c.label = `${c.codec}${args.audio ? ' + Opus' : ''}`;
      await runCase(ctx, args, relays[c.relay], c);
    }
    for (const [name, r] of Object.entries(relays)) {
      const m = await metrics(r.base);
      check(m.value('tandem_relay_endpoints') === 0, `relay (${name}): every resource was deleted`);
      // SIGTERM is how ops stop it: it must exit 0 (under sanitizers, also
      // with nothing reported on the way out).
      const exited = new Promise((resolve) => r.proc.once('exit', (code, sig) => resolve(sig || code)));
      r.proc.kill('SIGTERM');
      const how = await withTimeout(exited, 10000, `relay (${name}) exit`).catch((e) => e.message);
      check(how === 0, `relay (${name}): exit status ${how} after SIGTERM`);
      if (how !== 0) console.log(`  relay (${name}) stderr: ${r.stderr()}`);
    }
  } catch (e) {
    bad(e.message);
    for (const [name, r] of Object.entries(relays)) console.log(`  relay (${name}) stderr: ${r.stderr()}`);
  } finally {
    clearTimeout(watchdog);
    if (ctx) await withTimeout(ctx.close(), 10000, 'close Chromium').catch((e) => bad(e.message));
    if (server) server.close();
    stopRelays();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${failureCount()} failure(s)`);
  process.exit(failureCount() ? 1 : 0);
}

main();
