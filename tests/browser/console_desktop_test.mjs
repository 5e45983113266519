// A session through the browser rep console shows the real desktop (issue 7),
// in headless Chromium, against the real tandem-signal and tandem-relay, with
// tandem-share capturing a real X display (Xvfb) and injecting with XTEST:
//
//   node console_desktop_test.mjs --signal PATH --relay PATH --share PATH
//        --web-root DIR --ice-address ADDR [--share-address ADDR]
//        [--chromium PATH] [--screenshots DIR]
//
// The story (each step an "ok"/"FAIL" line):
//  1. an Xvfb desktop (found with -displayfd) holds two real X clients: an
//     xterm in blue and yellow that prints a banner and then runs
//     `cat > typed.txt` (what it reads from its terminal lands in that file,
//     and the terminal echoes it on the screen), and a solid red xterm as a
//     known rectangle; the root window is black;
//  2. the rep logs in to the console, opens a session, and tandem-share
//     joins with the join code the page shows (--display, --join-code);
//  3. the console's <video> plays the desktop: videoWidth x videoHeight is
//     the X screen's size; a canvas draw of the video has blue, yellow
//     banner text, red and black where the X windows are, and matches a
//     dump of the X screen itself (xwd) block by block;
//  4. the rep clicks into the xterm on the video and types a line: the X
//     pointer is where the rep clicked (xdotool), the line reaches the
//     xterm's program (typed.txt), the X screen shows it (xwd) and so does
//     the decoded video, which matches the new X screen and not the old;
//  5. the customer takes control back (the line `take` on tandem-share's
//     stdin): the console shows it; the rep's click and typing are refused
//     and the console says why; nothing reaches typed.txt or tandem-share,
//     the xterm's pixels do not change; after `give` the console shows
//     control shared again and the rep's next line arrives, alone;
//  6. the rep ends the session and tandem-share exits 0.
// With --screenshots DIR: the console page, the decoded video frames and the
// X screen dumps as PNG files in DIR.
//
// Meant to run inside a network namespace that run_console_desktop_test.sh
// creates. Starts, and stops by PID, Xvfb, the X clients, the relay, the
// service and tandem-share; Playwright starts and stops Chromium. Exit 0
// when every check passed, 1 otherwise.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import {
  bad, check, configure, evaluate, launchChromium, login, newContext, ok, openSession,
  parseStackArgs, run, shot, signalSetup, sleep, start, startServices, text, until, visible,
  withTimeout,
} from './lib.mjs';

const EVAL_TIMEOUT_MS = 20000;   // any single call into a page
const WAIT_TIMEOUT_MS = 20000;   // waiting for a page or the desktop to show something
const FRAMES_TIMEOUT_MS = 40000; // waiting for decoded video
const WATCHDOG_MS = 240000;      // the whole run
// Ports inside the test's own namespace: nothing else listens there.
const SIGNAL_PORT = 18443;
const RELAY_PORT = 18080;
const SCREEN = { w: 800, h: 600 };
const REP = { name: 'alice', password: 'correct horse battery staple' };
const BANNER = 'TANDEM DESKTOP';
const LINE1 = 'hello from the console';
const SECRET = 'while taken back';
const LINE2 = 'control is shared again';
configure({ evalMs: EVAL_TIMEOUT_MS, waitMs: WAIT_TIMEOUT_MS });

// ---------------------------------------------------------------- images
// An image here: {w, h, px} with px RGBA, 4 bytes a pixel.

// An xwd dump (ZPixmap, 32 bits a pixel, TrueColor: what Xvfb at depth 24
// gives) as an image.
function parseXwd(buf) {
  const u32 = (o) => buf.readUInt32BE(o);
  const headerSize = u32(0);
  const format = u32(8);
  const w = u32(16);
  const h = u32(20);
  const byteOrder = u32(28);
  const bpp = u32(44);
  const bpl = u32(48);
  const masks = [u32(56), u32(60), u32(64)];
  const ncolors = u32(76);
  if (format !== 2 || bpp !== 32) throw new Error(`xwd: format ${format}, ${bpp} bits a pixel: not handled`);
  const shift = (m) => { let s = 0; while (m && !((m >>> s) & 1)) s++; return s; };
  const shifts = masks.map(shift);
  const base = headerSize + ncolors * 12;
  if (buf.length < base + bpl * h) throw new Error('xwd: short file');
  const px = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = base + y * bpl + x * 4;
      const v = byteOrder === 0 ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
      const d = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) px[d + c] = ((v & masks[c]) >>> shifts[c]) & 0xff;
      px[d + 3] = 255;
    }
  }
  return { w, h, px };
}

// A PNG file of an image (for the screenshots).
function encodePng(img) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.w, 0);
  ihdr.writeUInt32BE(img.h, 4);
  ihdr[8] = 8; // bits a channel
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((img.w * 4 + 1) * img.h);
  for (let y = 0; y < img.h; y++) {
    raw[y * (img.w * 4 + 1)] = 0; // no filter
    img.px.copy(raw, y * (img.w * 4 + 1) + 1, y * img.w * 4, (y + 1) * img.w * 4);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const pixel = (img, x, y) => {
  const o = (y * img.w + x) * 4;
  return [img.px[o], img.px[o + 1], img.px[o + 2]];
};

// The mean colour of a rectangle {x, y, w, h}.
function meanColour(img, r) {
  const s = [0, 0, 0];
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x; x < r.x + r.w; x++) {
      const p = pixel(img, x, y);
      for (let c = 0; c < 3; c++) s[c] += p[c];
    }
  }
  return s.map((v) => Math.round(v / (r.w * r.h)));
}

// How many pixels of a rectangle pass test([r, g, b]).
function countPixels(img, r, test) {
  let n = 0;
  for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) if (test(pixel(img, x, y))) n++;
  return n;
}

const isYellow = ([r, g, b]) => r > 150 && g > 150 && b < 120;
const near = (c, want, tol = 40) => c.every((v, i) => Math.abs(v - want[i]) <= tol);

// Two images compared in 8x8 blocks (a video codec keeps block means close,
// not single pixels): the mean of the blocks' largest channel difference
// and the share of blocks differing by more than 24. Blocks within 24 px of
// `skip` (the X pointer, which xwd leaves out and the capture draws in) are
// left out; `region` limits the comparison.
function compareBlocks(a, b, { region, skip } = {}) {
  const r = region || { x: 0, y: 0, w: a.w, h: a.h };
  const B = 8;
  let n = 0;
  let sum = 0;
  let far = 0;
  for (let by = r.y; by + B <= r.y + r.h; by += B) {
    for (let bx = r.x; bx + B <= r.x + r.w; bx += B) {
      if (skip && Math.abs(bx + B / 2 - skip.x) < 24 + B && Math.abs(by + B / 2 - skip.y) < 24 + B) continue;
      const blk = { x: bx, y: by, w: B, h: B };
      const ma = meanColour(a, blk);
      const mb = meanColour(b, blk);
      const d = Math.max(...ma.map((v, i) => Math.abs(v - mb[i])));
      sum += d;
      if (d > 24) far++;
      n++;
    }
  }
  return { blocks: n, mean: n ? sum / n : 0, far: n ? far / n : 0 };
}

const fmtCmp = (c) => `mean block difference ${c.mean.toFixed(1)}, ${(c.far * 100).toFixed(2)}% of ${c.blocks} blocks off by more than 24`;

// The bounding box of the pixels that differ between two images in r.
function changedBox(a, b, r) {
  let x0 = Infinity; let y0 = Infinity; let x1 = -1; let y1 = -1;
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x; x < r.x + r.w; x++) {
      const pa = pixel(a, x, y);
      const pb = pixel(b, x, y);
      if (pa[0] !== pb[0] || pa[1] !== pb[1] || pa[2] !== pb[2]) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function sameRegion(a, b, r) { return changedBox(a, b, r) === null; }

// ---------------------------------------------------------------- X desktop

// Xvfb on a display it picks itself (-displayfd: no clash with anyone's).
async function startXvfb(procs) {
  const p = start('Xvfb', 'Xvfb', ['-displayfd', '3', '-screen', '0', `${SCREEN.w}x${SCREEN.h}x24`,
    '-nolisten', 'tcp', '-br', '-noreset'], { extra: ['pipe'], killWith: 'SIGTERM' });
  procs.xvfb = p;
  let got = '';
  const display = await withTimeout(new Promise((resolve, reject) => {
    p.proc.stdio[3].on('data', (d) => {
      got += d;
      const m = got.match(/^(\d+)\n/);
      if (m) resolve(`:${m[1]}`);
    });
    p.exited.then((st) => reject(new Error(`Xvfb exited (${st}): ${p.out}`)));
  }), 20000, 'Xvfb display number');
  return display;
}

function xenv(display) { return { ...process.env, DISPLAY: display }; }

// A window's absolute geometry (xwininfo), or null while it is not mapped.
function windowGeometry(display, name) {
  let out;
  try {
    out = execFileSync('xwininfo', ['-name', name], { env: xenv(display), stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch {
    return null;
  }
  const num = (re) => Number((out.match(re) || [])[1]);
  if (!/Map State: IsViewable/.test(out)) return null;
  return {
    x: num(/Absolute upper-left X:\s+(-?\d+)/), y: num(/Absolute upper-left Y:\s+(-?\d+)/),
    w: num(/Width:\s+(\d+)/), h: num(/Height:\s+(\d+)/),
  };
}

function xwd(display) {
  return parseXwd(execFileSync('xwd', ['-root', '-silent'], { env: xenv(display), maxBuffer: 64 << 20 }));
}

function pointerLocation(display) {
  const out = execFileSync('xdotool', ['getmouselocation'], { env: xenv(display) }).toString();
  const m = out.match(/x:(\d+) y:(\d+)/);
  return m ? { x: Number(m[1]), y: Number(m[2]) } : null;
}

// ---------------------------------------------------------------- console

// The console's <video> now, drawn on a canvas, as an image.
async function videoFrame(page) {
  const f = await evaluate(page, 'draw the video', () => {
    const v = document.getElementById('screen');
    if (!v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
    return { w: c.width, h: c.height, rgba: btoa(s) };
  });
  return f && { w: f.w, h: f.h, px: Buffer.from(f.rgba, 'base64') };
}

// Page coordinates of X screen point (x, y) on the video (object-fit:
// contain: the picture is scaled to fit and centred between bars).
async function pagePoint(page, x, y) {
  const box = await withTimeout(page.locator('#screen').boundingBox(), EVAL_TIMEOUT_MS, 'video box');
  const scale = Math.min(box.width / SCREEN.w, box.height / SCREEN.h);
  const ox = (box.width - SCREEN.w * scale) / 2;
  const oy = (box.height - SCREEN.h * scale) / 2;
  return { x: box.x + ox + (x + 0.5) * scale, y: box.y + oy + (y + 0.5) * scale };
}

// A barrier on the console's socket: the service handles a socket's
// messages in order, so once a chat sent after some input comes back, the
// service has dealt with that input (forwarded or refused).
let barrierN = 0;
async function barrier(page) {
  const mark = `barrier ${++barrierN}`;
  await page.fill('#chat-input', mark);
  await page.click('#chat-send');
  return until(`chat "${mark}" back`, async () => (await text(page, '#chat-log')).includes(mark));
}

function savePng(args, img, name) {
  if (!args.screenshots || !img) return;
  mkdirSync(args.screenshots, { recursive: true });
  writeFileSync(join(args.screenshots, `${name}.png`), encodePng(img));
}

const readTyped = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
const injectedCount = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => / injected/.test(l)).length : 0);

// Waits until the decoded video matches the X screen dump (the encoder
// refines a picture over a few frames); the last comparison and frame.
async function frameMatching(page, screen, what, skip) {
  let last = null;
  let frame = null;
  await until(what, async () => {
    frame = await videoFrame(page);
    if (!frame || frame.w !== screen.w || frame.h !== screen.h) return false;
    last = compareBlocks(frame, screen, { skip });
    return last.far < 0.01 && last.mean < 6;
  }, FRAMES_TIMEOUT_MS);
  return { cmp: last, frame };
}

// ---------------------------------------------------------------- the story

async function story(args, ctx, origin, procs, work) {
  // 1. The desktop.
  const display = await startXvfb(procs);
  ok(`Xvfb ${SCREEN.w}x${SCREEN.h} on display ${display}`);
  const typedFile = join(work, 'typed.txt');
  const inputLog = join(work, 'share-input.log');
  procs.xtermType = start('xterm (typing)', 'xterm', ['-geometry', '36x8+40+40', '-T', 'typing',
    '-bg', '#0000c0', '-fg', '#ffff00', '-cr', '#ffff00', '-fa', 'DejaVu Sans Mono', '-fs', '16',
    '-e', 'sh', '-c', `printf '%s\\n' '${BANNER}'; exec cat > '${typedFile}'`], { env: xenv(display) });
  procs.xtermBlock = start('xterm (block)', 'xterm', ['-geometry', '20x6+520+380', '-T', 'block',
    '-bg', '#e00000', '-fg', '#e00000', '-cr', '#e00000', '-e', 'sh', '-c', 'exec sleep 100000'],
  { env: xenv(display) });
  const tw = await until('the typing xterm mapped', () => windowGeometry(display, 'typing'));
  const bw = await until('the block xterm mapped', () => windowGeometry(display, 'block'));
  if (!tw || !bw) throw new Error('the X clients did not come up');
  ok(`xterms mapped: typing ${tw.w}x${tw.h}+${tw.x}+${tw.y}, block ${bw.w}x${bw.h}+${bw.x}+${bw.y}`);
  // The banner is on the X screen before anything is shared.
  const bannerBox = { x: tw.x + 2, y: tw.y + 2, w: tw.w - 4, h: Math.floor(tw.h / 8) };
  const x0 = await until('the banner on the X screen', () => {
    const s = xwd(display);
    return countPixels(s, bannerBox, isYellow) > 50 ? s : null;
  });
  if (!x0) throw new Error('the xterm never drew its banner');
  savePng(args, x0, 'x-screen-start');
  // The pointer over the black root, where xwd (which leaves the pointer
  // out) shows nothing and the capture draws it.
  const rootPoint = { x: 400, y: 320 };
  execFileSync('xdotool', ['mousemove', String(rootPoint.x), String(rootPoint.y)], { env: xenv(display) });

  // 2. The rep logs in, opens a session; the customer joins with its code.
  const rep = await ctx.newPage();
  rep.on('console', (m) => { if (m.type() === 'error') console.log(`  [console] ${m.text()}`); });
  rep.on('pageerror', (e) => bad(`uncaught exception on the console page: ${e.message}`));
  await withTimeout(rep.goto(`${origin}/`), EVAL_TIMEOUT_MS, 'open the console');
  await until('login form', () => visible(rep, '#login-form'));
  await login(rep, REP.name, REP.password);
  check(await until('lobby', () => visible(rep, '#lobby-view')), 'the rep logs in to the console');
  const code = await openSession(rep);
  await shot(args, rep, 'console-session-open');

  procs.share = start('tandem-share', args.share, ['--signal', origin, '--join-code', code,
    '--name', 'Carol (customer)', '--display', display, '--local-address', args.shareAddress,
    '--input-log', inputLog], { stdin: true });
  const joined = await procs.share.waitFor(/joined session (\S+) as (\S+)/, 20000);
  ok(`tandem-share joined with the code shown on the page: session ${joined[1]}`);
  check(await until('customer in the list', async () => /Carol \(customer\)/.test(await text(rep, '#participants'))),
    'the console lists the customer');

  // 3. The video is the desktop.
  const st = await until('the console decodes video', async () => {
    const s = await evaluate(rep, 'stats', () => window.tandemPage.stats());
    return s.framesDecoded > 0 ? s : null;
  }, FRAMES_TIMEOUT_MS);
  check(!!st, `the console decodes the customer's desktop over WHEP: ${st && st.framesDecoded} frames`);
  if (!st) throw new Error(`no video; tandem-share: ${procs.share.out.split('\n').slice(-10).join('\n')}`);
  const size = await until('video size', () => evaluate(rep, 'video size', () => {
    const v = document.getElementById('screen');
    return v.videoWidth ? { w: v.videoWidth, h: v.videoHeight } : null;
  }));
  check(size && size.w === SCREEN.w && size.h === SCREEN.h,
    `the video is ${size && size.w}x${size && size.h}, the X screen's size ${SCREEN.w}x${SCREEN.h}`);
  const ptr0 = pointerLocation(display);
  check(!!ptr0 && ptr0.x === rootPoint.x && ptr0.y === rootPoint.y, `the X pointer rests at (${ptr0 && ptr0.x}, ${ptr0 && ptr0.y}) on the root window`);
  const m0 = await frameMatching(rep, x0, 'the video matches the X screen', ptr0);
  const f0 = m0.frame;
  check(!!m0.cmp && m0.cmp.far < 0.01 && m0.cmp.mean < 6,
    `the decoded video matches the xwd dump of the X screen: ${m0.cmp ? fmtCmp(m0.cmp) : 'no frame'}`);
  if (f0) {
    const inside = { x: tw.x + tw.w - 40, y: tw.y + tw.h - 30, w: 20, h: 12 }; // below the text
    const blockIn = { x: bw.x + 20, y: bw.y + 20, w: bw.w - 40, h: bw.h - 40 };
    const root = { x: SCREEN.w - 60, y: 20, w: 40, h: 40 };
    const cBlue = meanColour(f0, inside);
    const cRed = meanColour(f0, blockIn);
    const cRoot = meanColour(f0, root);
    const yellow = countPixels(f0, bannerBox, isYellow);
    check(near(cBlue, [0, 0, 0xc0]), `the xterm's blue background is in the video where the xterm is: rgb(${cBlue})`);
    check(yellow > 50, `the banner's yellow text is in the video: ${yellow} yellow pixels in its line`);
    check(near(cRed, [0xe0, 0, 0]), `the red rectangle is in the video where the other xterm is: rgb(${cRed})`);
    check(near(cRoot, [0, 0, 0]), `the black root window is in the video around them: rgb(${cRoot})`);
    const around = { x: rootPoint.x - 12, y: rootPoint.y - 12, w: 24, h: 24 };
    const bright = ([r, g, b]) => r > 128 || g > 128 || b > 128;
    const cursorVideo = countPixels(f0, around, bright);
    const cursorX = countPixels(x0, around, bright);
    check(cursorVideo > 10 && cursorX === 0,
      `the pointer is drawn into the video (${cursorVideo} bright pixels around it; the X screen dump has ${cursorX})`);
  }
  savePng(args, f0, 'video-start');
  await shot(args, rep, 'console-desktop');

  // 4. The rep clicks into the xterm on the video and types a line.
  check(/Click the picture/.test(await text(rep, '#input-note')) && /shared/.test(await text(rep, '#control-state')),
    `the console offers input, control "${(await text(rep, '#control-state')).trim()}"`);
  const target = { x: tw.x + Math.round(tw.w * 0.6), y: tw.y + Math.round(tw.h * 0.7) };
  const at = await pagePoint(rep, target.x, target.y);
  await rep.mouse.move(at.x - 30, at.y - 20);
  await rep.mouse.click(at.x, at.y);
  await rep.keyboard.type(LINE1, { delay: 30 });
  await rep.keyboard.press('Enter');
  await barrier(rep);
  const typed1 = await until('the line in typed.txt', () => readTyped(typedFile).includes(`${LINE1}\n`) && readTyped(typedFile));
  check(typed1 === `${LINE1}\n`, `the typed line reached the xterm's program: ${JSON.stringify(readTyped(typedFile))}`);
  const ptr1 = pointerLocation(display);
  check(!!ptr1 && Math.abs(ptr1.x - target.x) <= 2 && Math.abs(ptr1.y - target.y) <= 2,
    `the X pointer is where the rep clicked: (${ptr1 && ptr1.x}, ${ptr1 && ptr1.y}) for (${target.x}, ${target.y})`);
  const injected1 = injectedCount(inputLog);
  check(injected1 >= 2 * LINE1.length, `tandem-share injected ${injected1} events (its --input-log)`);
  const x1 = await until('the echo on the X screen', () => {
    const s = xwd(display);
    const box = changedBox(x0, s, { x: tw.x, y: tw.y, w: tw.w, h: tw.h });
    return box && box.y > bannerBox.y + bannerBox.h / 2 ? s : null;
  });
  savePng(args, x1, 'x-screen-typed');
  const echo = x1 && changedBox(x0, x1, { x: tw.x, y: tw.y, w: tw.w, h: tw.h });
  check(!!echo && countPixels(x1, echo, isYellow) > countPixels(x0, echo, isYellow) + 100,
    `the X screen shows the typed line (xwd: yellow text appeared in ${echo && `${echo.w}x${echo.h}+${echo.x}+${echo.y}`})`);
  if (x1 && echo) {
    const m1 = await frameMatching(rep, x1, 'the video shows the typed line', ptr1);
    const f1 = m1.frame;
    check(!!m1.cmp && m1.cmp.far < 0.01 && m1.cmp.mean < 6, `the decoded video matches the new X screen: ${m1.cmp ? fmtCmp(m1.cmp) : 'no frame'}`);
    if (f1) {
      const vsNew = compareBlocks(f1, x1, { region: echo, skip: ptr1 });
      const vsOld = compareBlocks(f1, x0, { region: echo, skip: ptr1 });
      check(vsNew.mean * 2 < vsOld.mean && countPixels(f1, echo, isYellow) > countPixels(f0, echo, isYellow) + 100,
        `where the line appeared, the video is the new X screen (${vsNew.mean.toFixed(1)}) not the old (${vsOld.mean.toFixed(1)}); ` +
        `yellow pixels ${countPixels(f0, echo, isYellow)} -> ${countPixels(f1, echo, isYellow)}`);
    }
    savePng(args, f1, 'video-typed');
  }
  await shot(args, rep, 'console-typed');

  // 5. The customer takes control back.
  procs.share.proc.stdin.write('take\n');
  await procs.share.waitFor(/control: customer/, 10000).then(() => ok('tandem-share: control: customer'),
    (e) => bad(`tandem-share did not take control back: ${e.message}`));
  const shown = await until('the console shows the take-back', async () => {
    const c = await text(rep, '#control-state');
    return /taken back/.test(c) && c;
  });
  check(!!shown, `the console shows the control state: "${shown}"`);
  check(/taken control back/.test(await text(rep, '#input-note')), `the console says input is paused: "${await text(rep, '#input-note')}"`);
  check(await until('chat line', async () => /took control back/.test(await text(rep, '#chat-log'))),
    'the console\'s log says the customer took control back');
  const stateCtl = await evaluate(rep, 'state', () => window.tandemPage.state() && window.tandemPage.state().control);
  check(stateCtl === 'customer', `the session state says control "${stateCtl}"`);
  const before = xwd(display);
  const injectedBefore = injectedCount(inputLog);
  const at2 = await pagePoint(rep, target.x - 60, target.y);
  await rep.mouse.click(at2.x, at2.y);
  await rep.keyboard.type(SECRET, { delay: 30 });
  await rep.keyboard.press('Enter');
  const refused = await until('the refusal on the console', async () => (await visible(rep, '#input-error')) && text(rep, '#input-error'));
  check(/taken control back/.test(refused || ''), `the rep's input is refused and the console says why: "${refused}"`);
  await barrier(rep);
  await shot(args, rep, 'console-taken-back');
  await sleep(1000); // anything wrongly sent on has time to show
  const after = xwd(display);
  check(readTyped(typedFile) === `${LINE1}\n`, `nothing reached the xterm's program: ${JSON.stringify(readTyped(typedFile))}`);
  check(injectedCount(inputLog) === injectedBefore, `tandem-share injected nothing (${injectedCount(inputLog) - injectedBefore} new)`);
  check(sameRegion(before, after, { x: tw.x, y: tw.y, w: tw.w, h: tw.h }), 'the xterm\'s pixels did not change (xwd)');
  const ptr2 = pointerLocation(display);
  check(!!ptr2 && ptr2.x === ptr1.x && ptr2.y === ptr1.y, `the X pointer did not move: (${ptr2 && ptr2.x}, ${ptr2 && ptr2.y})`);
  savePng(args, after, 'x-screen-taken-back');

  // ... and hands it back: the rep's next line arrives, alone.
  procs.share.proc.stdin.write('give\n');
  const given = await until('control shared on the console', async () => {
    const c = await text(rep, '#control-state');
    return /^shared$/.test(c.trim()) && c;
  });
  check(!!given, `after "give" the console shows control "${given && given.trim()}"`);
  await rep.mouse.click(at.x, at.y);
  await rep.keyboard.type(LINE2, { delay: 30 });
  await rep.keyboard.press('Enter');
  await barrier(rep);
  const typed2 = await until('the second line', () => readTyped(typedFile).includes(`${LINE2}\n`) && readTyped(typedFile));
  check(typed2 === `${LINE1}\n${LINE2}\n`, `after the hand-back the next line arrives and only it: ${JSON.stringify(readTyped(typedFile))}`);
  const x2 = await until('the second echo on the X screen', () => {
    const s = xwd(display);
    const box = changedBox(after, s, { x: tw.x, y: tw.y, w: tw.w, h: tw.h });
    return box ? s : null;
  });
  if (x2) {
    const m2 = await frameMatching(rep, x2, 'the video shows the second line', pointerLocation(display));
    check(!!m2.cmp && m2.cmp.far < 0.01 && m2.cmp.mean < 6, `the decoded video shows it too: ${m2.cmp ? fmtCmp(m2.cmp) : 'no frame'}`);
    savePng(args, m2.frame, 'video-given-back');
    savePng(args, x2, 'x-screen-given-back');
  }
  await shot(args, rep, 'console-given-back');

  // 6. The end.
  await rep.click('#end-session');
  await rep.click('#end-session');
  check(await until('session over', () => visible(rep, '#over-view')), 'the rep ends the session');
  const shareExit = await withTimeout(procs.share.exited, 20000, 'tandem-share exit').catch((e) => e.message);
  check(shareExit === 0, `tandem-share exits with status ${shareExit} at the end of the session`);
}

// The customer first, then the X clients and the X server, then the
// services; each by its own process.
run({
  name: 'console-desktop',
  watchdogMs: WATCHDOG_MS,
  stopOrder: ['share', 'xtermType', 'xtermBlock', 'xvfb', 'signal', 'relay'],
  mustExit0: ['signal', 'relay'],
  body: async ({ work, procs, setBrowser }) => {
    const args = parseStackArgs(process.argv.slice(2));
    const origin = `http://127.0.0.1:${SIGNAL_PORT}`;
    const s = signalSetup(args.signal, work,
      { origin, relayPort: RELAY_PORT, users: [{ ...REP, argv: ['--role', 'rep'] }] });
    ok('rep account added with tandem-signal user add');
    await startServices(procs, args, s, { origin, relayPort: RELAY_PORT, signalPort: SIGNAL_PORT });
    const browser = await launchChromium(args.chromium);
    setBrowser(browser);
    const ctx = await newContext(browser, { width: 1280, height: 900 });
    await story(args, ctx, origin, procs, work);
  },
});
