// lib.mjs: what the headless-Chromium tests share (the page tests of
// tandem-signal, the rep console with a real desktop, the auditor page).
//
// Owns: the ok/FAIL lines and the failure count; bounds on every wait (a
// page or process that hangs fails the test instead of hanging it); option
// parsing; child processes whose output is kept for the failure report and
// which are stopped by their own PID; a tandem-signal + tandem-relay pair
// set up in a scratch directory; Chromium launched for WebRTC in a network
// namespace; the rep console's login and session opening; and the run's
// frame (watchdog, clean-up, exit status).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

// ---------------------------------------------------------------- checks

let failures = 0;
export const ok = (what) => console.log(`ok   ${what}`);
export const bad = (what) => { failures++; console.log(`FAIL ${what}`); };
export const check = (cond, what) => (cond ? ok(what) : bad(what));
export const failureCount = () => failures;

// ---------------------------------------------------------------- bounds

// Each test sets its own: a single call into a page, and a wait for a page
// (or anything polled with until) to show something.
const bounds = { evalMs: 20000, waitMs: 20000 };
export function configure({ evalMs, waitMs } = {}) {
  if (evalMs) bounds.evalMs = evalMs;
  if (waitMs) bounds.waitMs = waitMs;
}
export const evalMs = () => bounds.evalMs;

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const evaluate = (page, what, fn, arg) => withTimeout(page.evaluate(fn, arg), bounds.evalMs, what);
export const visible = (page, sel) => withTimeout(page.isVisible(sel), bounds.evalMs, `isVisible ${sel}`);
export const text = (page, sel) => withTimeout(page.textContent(sel), bounds.evalMs, `textContent ${sel}`);

// Polls fn until it returns something truthy, or the bound passes (then
// the last value, falsy, for the check to report).
export async function until(what, fn, ms = bounds.waitMs) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      console.log(`  (gave up waiting: ${what})`);
      return v;
    }
    await sleep(200);
  }
}

// With --screenshots DIR, the page as it is now in DIR/NAME.png.
export async function shot(args, page, name, { fullPage = false } = {}) {
  if (!args.screenshots) return null;
  mkdirSync(args.screenshots, { recursive: true });
  const path = join(args.screenshots, `${name}.png`);
  await withTimeout(page.screenshot({ path, fullPage }), bounds.evalMs, `screenshot ${name}`);
  return path;
}

// ---------------------------------------------------------------- options

// "--flag value" pairs: keys maps each flag to its field; the fields in
// required must be given.
export function parseOptions(argv, keys, required, defaults = {}) {
  const a = { chromium: '/usr/bin/chromium', ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const k = keys[argv[i]] || (argv[i] === '--chromium' ? 'chromium' : null);
    if (!k || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
    a[k] = argv[++i];
  }
  for (const k of required) if (!a[k]) throw new Error(`--${k} is required`);
  return a;
}

// The options of the tests that run the whole stack (tandem-signal,
// tandem-relay, tandem-share, the web pages): --share-address defaults to
// --ice-address.
export function parseStackArgs(argv) {
  const a = parseOptions(argv, {
    '--signal': 'signal', '--relay': 'relay', '--share': 'share', '--web-root': 'webRoot',
    '--ice-address': 'iceAddress', '--share-address': 'shareAddress', '--screenshots': 'screenshots',
  }, ['signal', 'relay', 'share', 'webRoot', 'iceAddress']);
  if (!a.shareAddress) a.shareAddress = a.iceAddress;
  return a;
}

// ---------------------------------------------------------------- processes

// A child process whose output is kept (printed when something fails).
// opts: stdin (a pipe to write to), extra (more stdio entries), env,
// killWith (the signal the run's clean-up sends it; SIGKILL by default).
export function start(name, cmd, argv, opts = {}) {
  const proc = spawn(cmd, argv, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(opts.extra || [])], env: opts.env || process.env });
  const p = { name, proc, out: '', killWith: opts.killWith || 'SIGKILL' };
  proc.stdout.on('data', (d) => { p.out += d; });
  proc.stderr.on('data', (d) => { p.out += d; });
  p.exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve(sig || code)));
  p.waitFor = (re, ms) => withTimeout(new Promise((resolve, reject) => {
    const look = () => {
      const m = p.out.match(re);
      if (m) resolve(m);
    };
    proc.stdout.on('data', look);
    proc.stderr.on('data', look);
    look();
    p.exited.then((st) => reject(new Error(`${name} exited (${st}): ${p.out.slice(-2000)}`)));
  }), ms, `${name}: ${re}`);
  return p;
}

const running = (p) => p && p.proc.exitCode === null && p.proc.signalCode === null;

// SIGTERM and its exit status (null: was not running).
export async function stopProc(p, ms = 10000) {
  if (!running(p)) return null;
  p.proc.kill('SIGTERM');
  return withTimeout(p.exited, ms, `${p.name} exit`).catch((e) => e.message);
}

// ---------------------------------------------------------------- services

// tandem-signal's configuration and secrets in work (one relay, relay-1 at
// relayPort; public at origin), and its users: [{name, password, argv}]
// added with `tandem-signal user add` (argv: more options, e.g. the role).
export function signalSetup(signal, work, { origin, relayPort, users }) {
  const relaySecret = join(work, 'relay.secret');
  writeFileSync(relaySecret, randomBytes(32).toString('hex'));
  writeFileSync(join(work, 'master.key'), randomBytes(32).toString('hex'));
  const config = join(work, 'signal.json');
  writeFileSync(config, JSON.stringify({
    public_url: origin,
    relays: [{ id: 'relay-1', url: `http://127.0.0.1:${relayPort}` }],
    relay_token_secret_file: 'relay.secret',
    recording_master_key_file: 'master.key',
  }, null, 2));
  const db = join(work, 'signal.db');
  for (const u of users) {
    execFileSync(signal, ['user', 'add', u.name, '--db', db, ...u.argv],
      { input: `${u.password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  }
  return { relaySecret, config, db };
}

// tandem-relay (relay-1, ICE on iceAddress) and tandem-signal serving
// webRoot, both on 127.0.0.1 (a secure context for the pages), into procs
// once each says it listens; returns the service's argv (to restart it).
export async function startServices(procs, args, s, { origin, relayPort, signalPort }) {
  procs.relay = start('tandem-relay', args.relay, ['serve', '--listen', `127.0.0.1:${relayPort}`,
    '--node-id', 'relay-1', '--secret-file', s.relaySecret, '--local-address', args.iceAddress,
    '--cors-origin', origin]);
  await procs.relay.waitFor(/listening on http:\/\/[0-9.]+:[0-9]+/, 10000);
  const signalArgv = ['serve', '--config', s.config, '--db', s.db,
    '--listen', `127.0.0.1:${signalPort}`, '--web-root', args.webRoot];
  procs.signal = start('tandem-signal', args.signal, signalArgv);
  await procs.signal.waitFor(/listening on (http:\/\/)?[0-9.]+:[0-9]+/, 10000);
  ok(`tandem-relay and tandem-signal listening (${origin})`);
  return signalArgv;
}

// ---------------------------------------------------------------- Chromium

export async function launchChromium(path) {
  const browser = await withTimeout(chromium.launch({
    executablePath: path,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Raw host candidates instead of mDNS names, which libnice cannot resolve.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows', '--autoplay-policy=no-user-gesture-required',
    ],
  }), 30000, 'launch Chromium');
  ok(`Chromium ${browser.version()} launched`);
  return browser;
}

// A context whose clicks, fills and navigations are bounded like evaluations.
export async function newContext(browser, viewport) {
  const ctx = await browser.newContext({ viewport });
  ctx.setDefaultTimeout(bounds.evalMs);
  return ctx;
}

// ---------------------------------------------------------------- pages

// Fills the login form of the console or the auditor page and submits it.
export async function login(page, name, password) {
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

// The rep (logged in, in the lobby) opens a session: the join code shown.
export async function openSession(page) {
  await page.click('#open-session');
  check(await until('session view', () => visible(page, '#session-view')), 'the rep opens a session');
  const code = (await text(page, '#join-code')).trim();
  check(/^[0-9A-Za-z]+([- ][0-9A-Za-z]+)*$/.test(code) && code !== '—', `the console shows the join code ${code}`);
  return code;
}

// ---------------------------------------------------------------- the run

// Runs body({work, procs}) with a scratch directory and the child
// processes it starts in procs, bounded by watchdogMs. On a throw: FAIL
// and the last lines of each process. Then stops, in stopOrder, each
// process still running (SIGTERM; those in mustExit0 must exit with 0),
// kills what is left, removes work; exits 1 if any check failed.
export async function run({ name, watchdogMs, stopOrder = [], mustExit0 = [], body }) {
  const work = mkdtempSync(join(tmpdir(), `tdm-${name}-`));
  const procs = {};
  let browser = null;
  const stopAll = () => {
    for (const p of Object.values(procs)) if (running(p)) p.proc.kill(p.killWith);
  };
  process.on('exit', stopAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => { stopAll(); rmSync(work, { recursive: true, force: true }); process.exit(1); });
  }
  const watchdog = setTimeout(() => {
    console.log(`FAIL watchdog: run over ${watchdogMs} ms`);
    stopAll();
    process.exit(1);
  }, watchdogMs);
  const started = Date.now();
  try {
    await body({ work, procs, setBrowser: (b) => { browser = b; } });
  } catch (e) {
    bad(e.message);
    for (const p of Object.values(procs)) {
      console.log(`  ${p.name} output (last lines):\n${p.out.split('\n').slice(-15).join('\n')}`);
    }
  } finally {
    clearTimeout(watchdog);
    if (browser) await withTimeout(browser.close(), 10000, 'close Chromium').catch((e) => bad(e.message));
    for (const key of stopOrder) {
      const how = await stopProc(procs[key]);
      if (mustExit0.includes(key) && how !== null) {
        check(how === 0, `${procs[key].name} exits with status ${how} after SIGTERM`);
      }
    }
    stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${failures} failure(s), ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failures ? 1 : 0);
}
