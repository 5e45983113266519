// The rep console follows a relay failover, in headless Chromium against
// the real tandem-signal and two heartbeating tandem-relay processes, with
// tandem-share (joined with the console's code) as the customer:
//
//   node console_failover_test.mjs --signal PATH --relay PATH --share PATH
//        --web-root DIR --ice-address ADDR --share-address ADDR [--chromium PATH]
//
//  1. the rep logs in, opens a session; tandem-share joins with the code the
//     console shows and publishes; the console decodes the screen;
//  2. the relay carrying the session is killed (SIGKILL);
//  3. the service moves the session ({"type":"media","event":"moved"}), the
//     console says so in its log and watches on the other relay: decoded
//     frames from a new stream (the time from the kill is printed, not
//     asserted); tandem-share says it moved;
//  4. the same for an invited expert: before the kill, the rep creates an
//     invite link on the console and the expert joins with it on the invite
//     page (another tab) and sees the screen; after the kill the invite
//     page says the relay went away and watches on the other relay (a new
//     stream, frames decoded).
//
// Meant to run inside the network namespace run_console_failover_test.sh
// creates. Starts, and stops by PID, the relays, the service and
// tandem-share; Playwright starts and stops Chromium. Exit 0 when every
// check passed, 1 otherwise.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const EVAL_TIMEOUT_MS = 20000;
const WAIT_TIMEOUT_MS = 30000;
const WATCHDOG_MS = 150000;
const SIGNAL_PORT = 18743;
const RELAY_PORTS = [18781, 18782];
const REP = { name: 'alice', password: 'correct horse battery staple' };

function parseArgs(argv) {
  const a = { chromium: '/usr/bin/chromium' };
  const keys = {
    '--signal': 'signal', '--relay': 'relay', '--share': 'share', '--web-root': 'webRoot',
    '--ice-address': 'iceAddress', '--share-address': 'shareAddress', '--chromium': 'chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const k = keys[argv[i]];
    if (!k || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
    a[k] = argv[++i];
  }
  for (const k of ['signal', 'relay', 'share', 'webRoot', 'iceAddress']) {
    if (!a[k]) throw new Error(`--${k} is required`);
  }
  if (!a.shareAddress) a.shareAddress = a.iceAddress;
  return a;
}

let failures = 0;
const ok = (what) => console.log(`ok   ${what}`);
const bad = (what) => { failures++; console.log(`FAIL ${what}`); };
const check = (cond, what) => (cond ? ok(what) : bad(what));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}
const evaluate = (page, what, fn, arg) => withTimeout(page.evaluate(fn, arg), EVAL_TIMEOUT_MS, what);
const visible = (page, sel) => withTimeout(page.isVisible(sel), EVAL_TIMEOUT_MS, `isVisible ${sel}`);
const text = (page, sel) => withTimeout(page.textContent(sel), EVAL_TIMEOUT_MS, `textContent ${sel}`);

async function until(what, fn, ms = WAIT_TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      console.log(`  (gave up waiting: ${what})`);
      return v;
    }
    await sleep(100);
  }
}

function start(name, cmd, argv) {
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { name, proc, out: '' };
  proc.stdout.on('data', (d) => { p.out += d; });
  proc.stderr.on('data', (d) => { p.out += d; });
  p.exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve(sig || code)));
  p.waitFor = (re, ms) => until(`${name}: ${re}`, () => re.test(p.out), ms);
  return p;
}

// tandem_relay_endpoints of a relay's /metrics (0 when it does not answer).
async function endpoints(port) {
  try {
    const res = await withTimeout(fetch(`http://127.0.0.1:${port}/metrics`), 2000, 'metrics');
    const m = (await res.text()).match(/^tandem_relay_endpoints (\d+)/m);
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

async function story(args, page, origin, procs) {
  page.on('pageerror', (e) => bad(`uncaught exception on the console: ${e.message}`));
  await withTimeout(page.goto(`${origin}/`), EVAL_TIMEOUT_MS, 'open the console');
  await until('login form', () => visible(page, '#login-form'));
  await page.fill('#login-name', REP.name);
  await page.fill('#login-password', REP.password);
  await page.click('#login-submit');
  check(await until('lobby', () => visible(page, '#lobby-view')), 'the rep logs in');
  await page.click('#open-session');
  check(await until('session view', () => visible(page, '#session-view')), 'the rep opens a session');
  const code = (await text(page, '#join-code')).trim();
  check(code && code !== '—', `the console shows the join code ${code}`);

  procs.share = start('tandem-share', args.share, ['--signal', origin, '--join-code', code,
    '--local-address', args.shareAddress, '--size', '640x360', '--fps', '15', '--duration', '120']);
  const stats = () => evaluate(page, 'stats', () => window.tandemPage.stats());
  const first = await until('frames', async () => ((await stats()).framesDecoded > 10 ? await stats() : null));
  check(first, `the console decodes the customer's screen (${first && first.framesDecoded} frames)`);
  if (!first) throw new Error('no video before the failover');

  // The invited expert, in another tab: the console's invite link.
  await page.click('#invite-create');
  const link = await until('invite link', async () => {
    const v = await evaluate(page, 'invite link', () => document.getElementById('invite-link').value);
    return v && v.includes('#token=') ? v : null;
  });
  check(link, 'the rep creates an invite link on the console');
  if (!link) throw new Error('no invite link');
  const expert = await page.context().newPage();
  expert.on('pageerror', (e) => bad(`uncaught exception on the invite page: ${e.message}`));
  await withTimeout(expert.goto(link), EVAL_TIMEOUT_MS, 'open the invite page');
  await until('join form', () => visible(expert, '#display-name'));
  await expert.fill('#display-name', 'Dana');
  await expert.click('#join-submit');
  const expertStats = () => evaluate(expert, 'invite stats', () => window.tandemPage.stats());
  const seen = await until('frames on the invite page',
    async () => ((await expertStats()).framesDecoded > 10 ? await expertStats() : null));
  check(seen, `the invited expert sees the screen (${seen && seen.framesDecoded} frames)`);
  if (!seen) throw new Error('no video on the invite page before the failover');
  await evaluate(expert, 'mark the stream', () => { window.oldStream = document.getElementById('screen').srcObject; });

  const counts = await Promise.all(RELAY_PORTS.map(endpoints));
  const i = counts.findIndex((n) => n >= 2);
  check(i >= 0, `the session's relay found by its endpoints (${counts.join(', ')})`);
  if (i < 0) throw new Error('which relay?');
  const victim = procs[`relay${i}`];
  await evaluate(page, 'mark the stream', () => { window.oldStream = document.getElementById('screen').srcObject; });
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  ok(`relay ${i + 1} (port ${RELAY_PORTS[i]}) killed with SIGKILL`);

  const again = await until('frames on the other relay', async () => {
    const moved = await evaluate(page, 'new stream', () => {
      const v = document.getElementById('screen');
      return v.srcObject && v.srcObject !== window.oldStream;
    });
    if (!moved) return null;
    const s = await stats();
    return s.framesDecoded > 5 && s.connectionState === 'connected' ? s : null;
  });
  if (again) {
    console.log(`FAILOVER console: frames again ${Date.now() - killedAt} ms after the kill`);
    ok(`the console watches on the other relay: ${again.framesDecoded} frames, ${again.frameWidth}x${again.frameHeight}`);
  } else {
    bad('the console did not show the screen again after the failover');
  }
  const log = await text(page, '#chat-log');
  check(/went away/.test(log || ''), 'the console says the relay went away');
  const expertAgain = await until('frames on the invite page after the move', async () => {
    const moved = await evaluate(expert, 'new stream', () => {
      const v = document.getElementById('screen');
      return v.srcObject && v.srcObject !== window.oldStream;
    });
    if (!moved) return null;
    const s = await expertStats();
    return s.framesDecoded > 5 && s.connectionState === 'connected' ? s : null;
  });
  if (expertAgain) {
    console.log(`FAILOVER invite page: frames again ${Date.now() - killedAt} ms after the kill`);
    ok(`the invite page watches on the other relay: ${expertAgain.framesDecoded} frames`);
  } else {
    bad('the invite page did not show the screen again after the failover');
  }
  check(/went away/.test((await text(expert, '#chat-log')) || ''),
    'the invite page says the relay went away (it heard the move)');
  check(/share: moved to /.test(procs.share.out), 'tandem-share re-published on the other relay by itself');
  const other = await endpoints(RELAY_PORTS[1 - i]);
  check(other >= 3, `the other relay carries the publisher, the console and the expert (${other} endpoints)`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'tdm-console-failover-'));
  const procs = {};
  let browser = null;
  const stopAll = () => {
    for (const p of Object.values(procs)) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    }
  };
  const watchdog = setTimeout(() => { bad('watchdog: the test took too long'); stopAll(); process.exit(1); }, WATCHDOG_MS);
  const origin = `http://127.0.0.1:${SIGNAL_PORT}`;
  const started = Date.now();
  try {
    const relaySecret = join(work, 'relay.secret');
    const clusterSecret = join(work, 'cluster.secret');
    writeFileSync(relaySecret, randomBytes(32).toString('hex'));
    writeFileSync(clusterSecret, randomBytes(32).toString('hex'));
    writeFileSync(join(work, 'master.key'), randomBytes(32).toString('hex'));
    const config = join(work, 'signal.json');
    writeFileSync(config, JSON.stringify({
      public_url: origin,
      relay_token_secret_file: 'relay.secret',
      recording_master_key_file: 'master.key',
      cluster_secret_file: 'cluster.secret',
      relay_ttl_s: 3,
    }));
    const db = join(work, 'signal.db');
    execFileSync(args.signal, ['user', 'add', REP.name, '--role', 'rep', '--may-invite',
      '--invite-profiles', 'view_only', '--db', db],
      { input: `${REP.password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    procs.signal = start('tandem-signal', args.signal, ['serve', '--config', config, '--db', db,
      '--listen', `127.0.0.1:${SIGNAL_PORT}`, '--web-root', args.webRoot]);
    check(await procs.signal.waitFor(/listening/, 10000), 'tandem-signal listening');
    RELAY_PORTS.forEach((port, k) => {
      procs[`relay${k}`] = start(`tandem-relay ${k + 1}`, args.relay, ['serve', '--listen', `127.0.0.1:${port}`,
        '--node-id', `relay-${k + 1}`, '--secret-file', relaySecret, '--local-address', args.iceAddress,
        '--cors-origin', origin, '--cluster-secret-file', clusterSecret, '--signal-url', origin,
        '--public-url', `http://127.0.0.1:${port}`, '--heartbeat-interval', '1']);
    });
    for (const k of [0, 1]) {
      check(await procs[`relay${k}`].waitFor(/registered as/, 10000), `relay ${k + 1} heartbeats into the registry`);
    }
    browser = await withTimeout(chromium.launch({
      executablePath: args.chromium,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows', '--autoplay-policy=no-user-gesture-required',
      ],
    }), 30000, 'launch Chromium');
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    ctx.setDefaultTimeout(EVAL_TIMEOUT_MS);
    await story(args, await ctx.newPage(), origin, procs);
  } catch (e) {
    bad(e.message);
    for (const p of Object.values(procs)) {
      console.log(`  ${p.name} output (last lines):\n${p.out.split('\n').slice(-12).join('\n')}`);
    }
  } finally {
    clearTimeout(watchdog);
    if (browser) await withTimeout(browser.close(), 10000, 'close Chromium').catch((e) => bad(e.message));
    stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${failures} failure(s), ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failures ? 1 : 0);
}

main();
