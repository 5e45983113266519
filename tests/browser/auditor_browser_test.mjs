// The auditor's recordings page (web/auditor.html) in headless Chromium,
// against a tandem-signal that run_auditor_browser_test.sh started with real
// recordings (tests/integration/recordings_fixture.sh). The story:
//   - a rep logging in on the page is told the page is for auditors;
//   - the auditor logs in and sees the recorded sessions with who took part
//     and each one's integrity (verified, FAILED, cut short, unreadable);
//   - opens the intact one: the verify status reads "Verified", there is a
//     marker on the time line for each audit event inside the recording;
//     the <video> plays (currentTime advances, videoWidth > 0);
//   - a click on a marker (and on an entry of the events list) seeks the
//     video there: currentTime near the event's time and a decoded frame on
//     screen (requestVideoFrameCallback's media time, and the picture drawn
//     to a canvas is not blank); screenshots into --screenshots;
//   - the tampered recording shows its failed verification, at the fault
//     tandem-replay names, and no video.
//
//   node auditor_browser_test.mjs --origin URL --session SID --auditor-password PW
//        --rep-password PW [--chromium PATH] [--screenshots DIR]
import {
  check, configure, evaluate, launchChromium, login, newContext, ok, parseOptions, run,
  shot as shotPage, until,
} from './lib.mjs';

const EVAL_TIMEOUT_MS = 20000;
const WAIT_TIMEOUT_MS = 30000;
const WATCHDOG_MS = 180000;
configure({ evalMs: EVAL_TIMEOUT_MS, waitMs: WAIT_TIMEOUT_MS });

function parseArgs(argv) {
  return parseOptions(argv, {
    '--origin': 'origin', '--session': 'session', '--auditor-password': 'auditorPw',
    '--rep-password': 'repPw', '--screenshots': 'screenshots',
  }, ['origin', 'session', 'auditorPw', 'repPw']);
}

async function shot(args, page, name) {
  const path = await shotPage(args, page, name, { fullPage: true });
  if (path) ok(`screenshot ${path}`);
}

// Waits for the seek to land, then reads the frame it shows: the media
// time of the next presented frame (requestVideoFrameCallback, when one is
// presented) and the frame number that recording_synth's source drew into
// the picture (capture/tdm_stamp.h: 16x7 cells of 8 px at the top left,
// magic 0xB5, the frame number, the capture time, CRC-16/CCITT-FALSE),
// read from the picture drawn to a canvas at its own size.
function seekedFrame(page, what) {
  return evaluate(page, what, () => new Promise((resolve) => {
    const v = document.getElementById('player');
    const readStamp = () => {
      const c = document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      if (!c.width || !c.height) return null;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0);
      const px = g.getImageData(0, 0, 128, 56).data;
      const avg = [];
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 16; col++) {
          let sum = 0;
          for (let dy = 2; dy < 6; dy++) {
            for (let dx = 2; dx < 6; dx++) {
              const i = 4 * ((row * 8 + dy) * 128 + col * 8 + dx);
              sum += (px[i] + px[i + 1] + px[i + 2]) / 3;
            }
          }
          avg.push(sum / 16);
        }
      }
      const lo = Math.min(...avg), hi = Math.max(...avg), mid = (lo + hi) / 2;
      if (hi - lo < 32) return null;
      const b = new Array(14).fill(0);
      avg.forEach((a, i) => { if (a > mid) b[i >> 3] |= 0x80 >> (i & 7); });
      let crc = 0xffff;
      for (let i = 0; i < 12; i++) {
        crc ^= b[i] << 8;
        for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
      }
      if (b[0] !== 0xb5 || crc !== ((b[12] << 8) | b[13])) return null;
      return ((b[1] << 24) | (b[2] << 16) | (b[3] << 8) | b[4]) >>> 0;
    };
    const done = (mediaTime) => {
      resolve({ currentTime: v.currentTime, mediaTime, readyState: v.readyState, frame: readStamp(), seeking: v.seeking });
    };
    const afterSeek = () => {
      let fired = false;
      if (v.requestVideoFrameCallback) {
        v.requestVideoFrameCallback((_, meta) => { fired = true; done(meta.mediaTime); });
      }
      // A paused element may already show the frame and present no new one.
      setTimeout(() => { if (!fired) done(null); }, 3000);
    };
    if (v.seeking) v.addEventListener('seeked', afterSeek, { once: true });
    else afterSeek();
  }));
}

async function expectSeek(page, target, what) {
  const f = await seekedFrame(page, `frame after ${what}`);
  check(!f.seeking && Math.abs(f.currentTime - target) < 0.1,
    `${what}: currentTime ${f.currentTime.toFixed(3)} s, near ${target} s`);
  // 30 frames a second from 0: the frame shown is the one at or just before the time.
  check(f.readyState >= 2 && f.frame !== null && Math.abs(f.frame - target * 30) <= 1.5,
    `${what}: the frame shown is number ${f.frame} (want about ${Math.round(target * 30)})`);
  if (f.mediaTime !== null) {
    check(Math.abs(f.mediaTime - target) < 0.1, `${what}: the presented frame is at ${f.mediaTime.toFixed(3)} s`);
  } else {
    console.log(`  (${what}: no new frame presented; the frame shown was checked by its stamp)`);
  }
}

async function story(args, browser) {
  const ctx = await newContext(browser, { width: 1280, height: 900 });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.setDefaultTimeout(WAIT_TIMEOUT_MS);
  const origin = args.origin;
  const sid = args.session;

  // The rep console links here.
  await page.goto(`${origin}/`);
  check(await page.isVisible('a[href="auditor.html"]'), 'the rep console\'s login page links the recordings page');

  await page.goto(`${origin}/auditor.html`);
  await page.waitForSelector('#login-view:not([hidden])');
  await login(page, 'alice', args.repPw);
  const repMsg = await until('rep refused', async () => (await page.isVisible('#login-error')) && page.textContent('#login-error'));
  check(/auditors/.test(repMsg || ''), `a rep is told the page is for auditors: "${repMsg}"`);

  await login(page, 'audrey', args.auditorPw);
  await page.waitForSelector('#list-view:not([hidden])');
  const row = `#recordings-body tr[data-id="${sid}"]`;
  const rowText = await until('the recording verified in the list', async () => {
    if (!(await page.isVisible(row))) return null;
    const t = await page.textContent(row);
    return /verified/.test(t) ? t : null;
  });
  check(!!rowText, 'the intact recording is listed as verified');
  check(/alice/.test(rowText || '') && /Carol Customer/.test(rowText || '') && /Eve Expert/.test(rowText || ''),
    'the list shows who took part: alice, Carol Customer, Eve Expert');
  check(/0:05\.0|0:04\.9/.test(rowText || ''), 'the list shows the length (0:05.0)');
  const badge = async (id) => page.textContent(`#recordings-body tr[data-id="${id}"] .badge`).catch(() => null);
  const tamperedBadge = await until('tampered badge', async () => ((await badge('tampered')) === 'FAILED' ? 'FAILED' : null));
  check(tamperedBadge === 'FAILED', 'the tampered recording is listed as FAILED');
  check((await badge('cut')) === 'cut short', 'the cut recording is listed as cut short');
  check((await badge('wrongkey')) === 'unreadable', 'the wrong-key recording is listed as unreadable');
  await shot(args, page, 'auditor-list');

  // Open the intact recording.
  await page.click(`${row} button`);
  await page.waitForSelector('#recording-view:not([hidden])');
  const verify = await until('verified status', async () => {
    const t = await page.textContent('#verify');
    return /^Verified/.test(t) ? t : null;
  });
  check(!!verify, `verify status: "${(verify || '').slice(0, 60)}…"`);
  const loaded = await until('the video loads', () => evaluate(page, 'readyState',
    () => document.getElementById('player').readyState >= 2));
  check(loaded, 'the <video> loaded the export');

  const st = await evaluate(page, 'page state', () => window.auditorPage.state());
  const markers = await evaluate(page, 'markers', () => window.auditorPage.markers());
  const inside = st.events.filter((e) => e.source === 'audit' && e.offset_s >= 0 && e.offset_s <= st.duration_s);
  check(markers.length === inside.length && markers.length >= 8,
    `a marker for each audit event inside the recording (${markers.length} of ${inside.length})`);
  for (const k of ['participant_joined', 'input_denied', 'profile_changed', 'participant_left', 'session_ended']) {
    check(markers.some((m) => m.kind === k), `a ${k} marker`);
  }
  const denied = markers.find((m) => m.kind === 'input_denied');
  check(denied && Math.abs(denied.offset - 0.4) < 0.01, `the denied input is marked at 0.4 s (${denied && denied.offset})`);

  // Markers close together (0.3, 0.4, 0.5 s) each keep a spot of their own
  // to click, on a wide page and on a narrow one (stacked in rows there).
  const hittable = () => evaluate(page, 'markers hit', () => Array.from(document.querySelectorAll('#timeline .marker')).every((m) => {
    m.scrollIntoView({ block: 'center', inline: 'center' });
    const r = m.getBoundingClientRect();
    return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === m;
  }));
  check(await hittable(), 'wide page: every marker can be clicked (none covers another)');
  await page.setViewportSize({ width: 480, height: 900 });
  check(await until('narrow page: markers stacked', hittable), 'narrow page: every marker can be clicked');
  const rows = await evaluate(page, 'marker rows', () => Math.max(...window.auditorPage.markers().map((m) => m.row)));
  check(rows >= 1, `narrow page: markers close together go on a second row (${rows + 1} rows)`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await evaluate(page, 'scroll back', () => { window.scrollTo(0, 0); return true; });

  // Play: time advances, frames have a size.
  await evaluate(page, 'play', () => document.getElementById('player').play().then(() => true));
  const played = await until('playing', () => evaluate(page, 'currentTime',
    () => { const v = document.getElementById('player'); return v.currentTime > 0.5 && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth, h: v.videoHeight } : null; }));
  check(!!played, `the video plays: currentTime ${played && played.t.toFixed(2)} s, ${played && played.w}x${played && played.h}`);
  await evaluate(page, 'pause', () => { document.getElementById('player').pause(); return true; });

  // Seek by marker, by the events list, and by setting currentTime.
  await page.click('#timeline .marker[data-kind="session_ended"]');
  await expectSeek(page, 3.5, 'click on the session_ended marker');
  await page.click('#timeline .marker[data-kind="profile_changed"]');
  await expectSeek(page, 0.5, 'click on the profile_changed marker');
  await page.click('#events li[data-kind="participant_left"]');
  await expectSeek(page, 2.5, 'click on the participant_left event in the list');
  await evaluate(page, 'set currentTime', () => { document.getElementById('player').currentTime = 4.2; return true; });
  await expectSeek(page, 4.2, 'currentTime = 4.2');
  const head = await evaluate(page, 'playhead', () => parseFloat(document.getElementById('timeline-head').style.left));
  check(Math.abs(head - 84) < 3, `the playhead on the time line follows (${head.toFixed(1)}%)`);
  await shot(args, page, 'auditor-recording');

  // The tampered one.
  await page.click('#back');
  await page.waitForSelector('#list-view:not([hidden])');
  await page.click('#recordings-body tr[data-id="tampered"] button');
  await page.waitForSelector('#recording-view:not([hidden])');
  const failedText = await until('failed status', async () => {
    const t = await page.textContent('#verify');
    return /FAILED/.test(t) ? t : null;
  });
  check(/Verification FAILED: .*record \d+.*byte \d+/.test(failedText || ''),
    `the tampered recording fails verification and says where: "${failedText}"`);
  const noVideo = await until('no video', async () => {
    const t = await page.textContent('#player-state');
    return /No video/.test(t) ? t : null;
  });
  check(/fails verification/.test(noVideo || ''), `no video for it: "${noVideo}"`);
  await shot(args, page, 'auditor-tampered');

  check(pageErrors.length === 0, `no script errors on the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
  await ctx.close();
}

run({
  name: 'auditor-browser',
  watchdogMs: WATCHDOG_MS,
  body: async ({ setBrowser }) => {
    const args = parseArgs(process.argv.slice(2));
    const browser = await launchChromium(args.chromium);
    setBrowser(browser);
    await story(args, browser);
  },
});
