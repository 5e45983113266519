// The web pages served by tandem-signal, in headless Chromium, against the
// real tandem-signal and tandem-relay, with tandem-share as the customer:
//
//   node signal_browser_test.mjs --signal PATH --relay PATH --share PATH
//        --web-root DIR --ice-address ADDR --share-address ADDR [--chromium PATH]
//        [--screenshots DIR]   (the console and the invite page, watching)
//
// The story (each step an "ok"/"FAIL" line):
//  1. the rep console refuses a wrong password with a message, then logs in;
//  2. the rep opens a session and the console shows the customer join code;
//  3. the customer joins with that code through the API (publish token and
//     WHIP URL), tandem-share publishes, and a WebSocket stands in for the
//     customer's input socket (a plain page of its own);
//  4. the rep creates a view_only invite, reads the link, Copy puts it on
//     the clipboard; a second browser context opens it, gives a name, joins;
//  5. both the console and the invite page decode video (getStats);
//  6. the invite page shows no input controls; pointer and key events over
//     its picture reach nobody; a key sent anyway is refused by the service
//     and the page shows the refusal;
//  7. the console lists everyone with their profiles; the rep's click and
//     key over the picture reach the customer's socket, in order; chat goes
//     both ways between the console and the invite page;
//  8. the owner changes the invitee's profile: pointer (pointer controls
//     only; moves reach the customer, keys are not sent), control (click and
//     key reach the customer; Ctrl+Alt+Delete is refused and shown), full
//     (clipboard controls; the text reaches the customer);
//  9. a used, a revoked, an expired link and a link without its token each
//     get their message; the owner removes the invitee (its page says so);
//     a second rep (no Rep Invite: no invite panel) joins by the session id,
//     the owner hands over ownership, the new owner ends the session (the
//     first console says so, the customer hears it);
// 10. another session: a reload of the console comes back to it; the
//     service stops (the console shows the lost connection) and restarts
//     on the same database (the console reconnects); input with no customer
//     connected is reported; the owner ends it.
//
// Meant to run inside a network namespace that run_signal_browser_test.sh
// creates (ICE on the namespace's veth addresses; the service and relay HTTP
// on 127.0.0.1, a secure context). Starts, and stops by PID, the relay, the
// service and tandem-share; Playwright starts and stops Chromium. Exit 0
// when every check passed, 1 otherwise.
import {
  bad, check, configure, evaluate, launchChromium, login, newContext, ok, openSession,
  parseStackArgs, run, shot, signalSetup, sleep, start, startServices, stopProc, text, until, visible,
  withTimeout,
} from './lib.mjs';

const EVAL_TIMEOUT_MS = 20000;   // any single call into a page
const WAIT_TIMEOUT_MS = 20000;   // waiting for a page to show something
const FRAMES_TIMEOUT_MS = 30000; // waiting for decoded video
const WATCHDOG_MS = 200000;      // the whole run
// Ports inside the test's own namespace: nothing else listens there.
const SIGNAL_PORT = 18443;
const RELAY_PORT = 18080;
const REP = { name: 'alice', password: 'correct horse battery staple' };
const REP2 = { name: 'bob', password: 'another long password' }; // no Rep Invite
configure({ evalMs: EVAL_TIMEOUT_MS, waitMs: WAIT_TIMEOUT_MS });

// The text of sel once `shown` is visible (null if it never is).
const shownText = (page, shown, sel, what) =>
  until(what, async () => (await visible(page, shown)) && text(page, sel));

async function httpJson(method, url, body) {
  const res = await withTimeout(fetch(url, {
    method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
  }), 10000, `${method} ${url}`);
  const t = await res.text();
  let data = null;
  try { data = JSON.parse(t); } catch { /* not JSON */ }
  return { status: res.status, data, text: t };
}

// The customer's input socket, in a page of its own (the signaling service's
// origin, no media): collects what the service forwards to the customer.
async function customerSocket(ctx, origin, secret) {
  const page = await ctx.newPage();
  await withTimeout(page.goto(`${origin}/healthz`), EVAL_TIMEOUT_MS, 'customer page');
  const welcome = await evaluate(page, 'customer socket', ({ url, secret: s }) => new Promise((resolve, reject) => {
    window.got = [];
    window.wsClosed = null;
    const ws = new WebSocket(url);
    window.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', secret: s }));
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      window.got.push(m);
      if (m.type === 'welcome') resolve(m);
      if (m.type === 'error') reject(new Error(ev.data));
    };
    ws.onclose = (ev) => { window.wsClosed = ev.code; reject(new Error(`closed ${ev.code}`)); };
  }), { url: `${origin.replace('http', 'ws')}/api/v1/ws`, secret });
  const inputs = () => evaluate(page, 'customer inputs',
    () => window.got.filter((m) => /^(pointer_|key_|clipboard_)/.test(m.type)));
  const events = () => evaluate(page, 'customer events', () => window.got.filter((m) => m.type === 'session'));
  const closed = () => evaluate(page, 'customer socket closed', () => window.wsClosed);
  return { page, welcome, inputs, events, closed };
}

async function frames(page, who, procs) {
  const s = await until(`${who} decodes video`, async () => {
    const st = await evaluate(page, `${who} stats`, () => window.tandemPage.stats());
    return st.framesDecoded > 0 ? st : null;
  }, FRAMES_TIMEOUT_MS);
  const last = s || await evaluate(page, `${who} stats`, () => window.tandemPage.stats());
  check(last.framesDecoded > 0, `${who} decodes the customer's screen over WHEP: ` +
    `${last.framesDecoded} frames, ${last.frameWidth}x${last.frameHeight}, ${last.connectionState}`);
  if (!(last.framesDecoded > 0) && procs.share) {
    console.log(`  tandem-share output (last lines):\n${procs.share.out.split('\n').slice(-10).join('\n')}`);
  }
}

// The centre of the picture in page coordinates.
async function pictureCentre(page) {
  const box = await withTimeout(page.locator('#screen').boundingBox(), EVAL_TIMEOUT_MS, 'screen box');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

async function story(args, ctxs, origin, procs) {
  const [repCtx, expertCtx, customerCtx, rep2Ctx] = ctxs;
  const rep = await repCtx.newPage();
  // Console errors are shown (the refused login's 401 is one); an uncaught
  // exception in a page is a failure.
  // Every request goes to the service or the relay: nothing loads from
  // anywhere else.
  const allowed = new Set([origin, `http://127.0.0.1:${RELAY_PORT}`]);
  const requests = { all: 0, elsewhere: 0 };
  const watch = (page, who) => {
    page.on('console', (m) => { if (m.type() === 'error') console.log(`  [${who}] ${m.text()}`); });
    page.on('pageerror', (e) => bad(`uncaught exception on the ${who} page: ${e.message}`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      requests.all++;
      if (!['data:', 'about:', 'blob:'].includes(u.protocol) && !allowed.has(u.origin)) {
        requests.elsewhere++;
        console.log(`  the ${who} page requested ${r.url()}`);
      }
    });
  };
  watch(rep, 'console');

  // 1. Log in: a wrong password first.
  await withTimeout(rep.goto(`${origin}/`), EVAL_TIMEOUT_MS, 'open the console');
  check(await until('login form', () => visible(rep, '#login-form')), 'the console at / shows the login form');
  await shot(args, rep, 'login');
  await login(rep, REP.name, 'wrong password');
  const loginErr = await shownText(rep, '#login-error', '#login-error', 'login error');
  check(/wrong name or password/i.test(loginErr || ''), `a wrong password is refused: "${loginErr}"`);
  await rep.fill('#login-password', REP.password);
  await rep.click('#login-submit');
  check(await until('lobby', () => visible(rep, '#lobby-view')), 'the rep logs in');

  // 2. Open a session: the join code.
  const code = await openSession(rep);

  // 3. The customer joins with the code and publishes with tandem-share.
  const joined = await httpJson('POST', `${origin}/api/v1/join`, { code, display_name: 'Carol (customer)' });
  check(joined.status === 201 && joined.data && joined.data.media && joined.data.media.kind === 'whip',
    `the customer joins with the code: ${joined.status}, media ${joined.data?.media?.url}`);
  if (joined.status !== 201) throw new Error(`customer join: ${joined.text}`);
  procs.share = start('tandem-share', args.share, ['--url', joined.data.media.url, '--token', joined.data.media.token,
    '--local-address', args.shareAddress, '--size', '640x360', '--fps', '15', '--scenario', 'typing']);
  const customer = await customerSocket(customerCtx, origin, joined.data.secret);
  check(new URL(joined.data.media.url).origin === `http://127.0.0.1:${RELAY_PORT}`, 'the media URL is the relay\'s');
  ok(`the customer's socket is welcomed as ${customer.welcome.participant.kind}`);

  // 4. A view_only invite, opened in another browser context.
  await until('invite panel', () => visible(rep, '#invite-panel'));
  await rep.selectOption('#invite-profile', 'view_only');
  await rep.click('#invite-create');
  const link = await until('invite link', async () => (await visible(rep, '#invite-result')) &&
    withTimeout(rep.inputValue('#invite-link'), EVAL_TIMEOUT_MS, 'invite link'));
  check(/\/invite\.html#token=.+/.test(link || ''),
    `the rep creates a view_only invite: ${link && link.replace(/token=.*/, 'token=…')}`);
  if (!link) throw new Error('no invite link');
  await rep.click('#invite-copy');
  const copied = await until('clipboard', async () => (await evaluate(rep, 'read the clipboard',
    () => navigator.clipboard.readText().catch(() => ''))) === link);
  check(copied, 'Copy puts the link on the clipboard');
  const expert = await expertCtx.newPage();
  watch(expert, 'invite');
  await withTimeout(expert.goto(link), EVAL_TIMEOUT_MS, 'open the invite link');
  check(await until('join form', () => visible(expert, '#join-form')), 'the invite page asks for a name');
  await shot(args, expert, 'invite-join');
  await expert.fill('#display-name', 'Dana (vendor)');
  await expert.click('#join-submit');
  check(await until('invite session view', () => visible(expert, '#session-view')), 'the expert joins through the link');

  // 5. Video on both pages.
  await frames(expert, 'the invite page', procs);
  await frames(rep, 'the console', procs);

  await shot(args, rep, 'console');
  await shot(args, expert, 'invite');

  // 6. No input controls for view_only, and nothing reaches the customer.
  const controls = await evaluate(expert, 'invite controls', () => window.tandemPage.controls());
  check(controls.kinds.length === 0 && !controls.pointer && !controls.focusable && !controls.clipboard,
    `the view_only invite page offers no input: ${JSON.stringify(controls)}`);
  check(/no input/i.test(await text(expert, '#input-note')), 'the invite page says it allows no input');
  const eCentre = await pictureCentre(expert);
  await expert.mouse.move(eCentre.x, eCentre.y);
  await expert.mouse.click(eCentre.x + 5, eCentre.y + 5);
  await expert.keyboard.press('x');
  // A key sent anyway (as a tampered page would) is refused by the service,
  // and the page shows the refusal.
  check(await evaluate(expert, 'send a key anyway',
    () => window.tandemPage.send({ type: 'key_down', key: 'x', mods: [] })),
  'the test sends a key as the view_only expert');
  const deniedText = await shownText(expert, '#input-error', '#input-error', 'denied input shown');
  check(/refused \(key_down\).*does not allow/i.test(deniedText || ''),
    `the invite page shows the denied input: "${deniedText}"`);

  // 7. Presence with profiles; the rep's input and chat.
  const people = await until('presence', async () => {
    const s = await evaluate(rep, 'console state', () => window.tandemPage.state());
    const ps = (s && s.participants) || [];
    const d = ps.find((p) => p.name === 'Dana (vendor)');
    return ps.some((p) => p.kind === 'customer') && d && d.profile === 'view_only' ? ps : null;
  });
  check(!!people, `the console lists everyone: ${JSON.stringify((people || []).map((p) => [p.name, p.kind, p.profile]))}`);
  const rowText = await text(rep, '#participants');
  check(/Dana \(vendor\)/.test(rowText) && /view_only/.test(rowText) && /Carol/.test(rowText),
    'the console shows the invitee with view_only and the customer');

  const rCentre = await pictureCentre(rep);
  await rep.mouse.move(rCentre.x - 20, rCentre.y - 10);
  await rep.mouse.click(rCentre.x, rCentre.y);
  await rep.keyboard.press('a');
  const got = await until('rep input at the customer', async () => {
    const ins = await customer.inputs();
    return ins.some((m) => m.type === 'key_up' && m.key === 'a') ? ins : null;
  });
  const kinds = (got || []).map((m) => m.type);
  const down = (got || []).find((m) => m.type === 'pointer_button' && m.down);
  check(!!got && kinds.includes('pointer_move') && !!down && kinds.indexOf('key_down') > kinds.indexOf('pointer_button'),
    `the rep's pointer and key reach the customer in order: ${kinds.join(', ')}`);
  check(!!down && Math.abs(down.x - 0.5) < 0.05 && Math.abs(down.y - 0.5) < 0.05,
    `a click at the picture's centre arrives as (${down && down.x}, ${down && down.y})`);
  check(!(got || []).some((m) => m.type === 'key_down' && m.key === 'x'),
    'nothing the view_only expert did reached the customer');

  await rep.fill('#chat-input', 'hello from the rep');
  await rep.click('#chat-send');
  const heard = await until('chat on the invite page',
    async () => /hello from the rep/.test(await text(expert, '#chat-log')));
  check(heard, 'the rep\'s chat appears on the invite page');
  await expert.fill('#chat-input', 'hi, expert here');
  await expert.click('#chat-send');
  check(await until('chat on the console', async () => /hi, expert here/.test(await text(rep, '#chat-log'))),
    'the expert\'s chat appears on the console');

  // 8. The owner gives the invitee the pointer profile.
  const danaId = people && people.find((p) => p.name === 'Dana (vendor)').id;
  await rep.selectOption(`#participants li[data-pid="${danaId}"] select.set-profile`, 'pointer');
  const pc = await until('pointer controls', async () => {
    const c = await evaluate(expert, 'invite controls', () => window.tandemPage.controls());
    return c.pointer && c.kinds.includes('pointer_move') ? c : null;
  });
  check(!!pc && !pc.kinds.includes('key_down') && !pc.clipboard,
    `after the change to pointer, the invite page offers the pointer only: ${JSON.stringify(pc)}`);
  const before = (await customer.inputs()).length;
  await expert.mouse.move(eCentre.x - 30, eCentre.y - 30);
  await expert.mouse.move(eCentre.x + 30, eCentre.y + 30, { steps: 3 });
  await expert.keyboard.press('y');
  const moved = await until('expert pointer at the customer', async () => {
    const ins = (await customer.inputs()).slice(before);
    return ins.some((m) => m.type === 'pointer_move') ? ins : null;
  });
  check(!!moved && !moved.some((m) => m.type.startsWith('key_')),
    `the pointer expert's moves reach the customer, no keys: ${(moved || []).map((m) => m.type).join(', ')}`);

  // control: mouse and keyboard, no clipboard; full: the clipboard too.
  await rep.selectOption(`#participants li[data-pid="${danaId}"] select.set-profile`, 'control');
  const cc = await until('control controls', async () => {
    const c = await evaluate(expert, 'invite controls', () => window.tandemPage.controls());
    return c.kinds.includes('key_down') ? c : null;
  });
  check(!!cc && cc.kinds.includes('pointer_button') && !cc.clipboard,
    `after the change to control, mouse and keyboard, no clipboard: ${JSON.stringify(cc)}`);
  const before2 = (await customer.inputs()).length;
  await expert.mouse.click(eCentre.x, eCentre.y);
  await expert.keyboard.press('z');
  const typed = await until('expert key at the customer', async () => {
    const ins = (await customer.inputs()).slice(before2);
    return ins.some((m) => m.type === 'key_up' && m.key === 'z') ? ins : null;
  });
  check(!!typed && typed.some((m) => m.type === 'pointer_button'),
    `the control expert's click and key reach the customer: ${(typed || []).map((m) => m.type).join(', ')}`);
  // A blocked chord of control: refused by the service, shown on the page.
  await expert.keyboard.press('Control+Alt+Delete');
  const chordText = await until('blocked chord shown', async () => {
    const t = await text(expert, '#input-error');
    return /blocked/.test(t || '') && t;
  });
  check(!!chordText, `Ctrl+Alt+Delete is refused and the page says so: "${chordText}"`);
  check(!(await customer.inputs()).some((m) => m.type === 'key_down' && m.key === 'Delete'),
    'the blocked chord never reaches the customer');
  // The customer takes control back: the invite page says so, and the
  // expert's input is refused with a readable reason; given back, it flows.
  const customerSays = (state) => evaluate(customer.page, 'customer control',
    (s) => { window.ws.send(JSON.stringify({ type: 'control', state: s })); return true; }, state);
  check(/shared/.test(await text(expert, '#control-state') || ''), 'the invite page shows control shared');
  await customerSays('customer');
  const takenText = await until('taken back on the invite page', async () => {
    const t = await text(expert, '#control-state');
    return /taken back/.test(t || '') && t;
  });
  check(!!takenText, `the invite page shows control "${takenText}" after the customer took it back`);
  check(/paused/.test(await text(expert, '#input-note') || ''), 'the invite page says input is paused');
  const beforeTaken = (await customer.inputs()).length;
  await expert.mouse.click(eCentre.x, eCentre.y);
  await expert.keyboard.press('q');
  const refusal = await until('customer_has_control refusal shown', async () => {
    const t = await text(expert, '#input-error');
    return /taken control back/.test(t || '') && t;
  });
  check(!!refusal, 'the refusal is readable on the invite page: '
    + `"${((refusal || '').match(/Input refused \([^)]*\): the customer has taken control back[^.]*\./) || [''])[0]}"`);
  await shot(args, expert, 'invite-taken-back');
  check((await customer.inputs()).length === beforeTaken, 'nothing reached the customer while it held control');
  await customerSays('shared');
  check(await until('shared again on the invite page', async () =>
    /shared/.test(await text(expert, '#control-state') || '')), 'the invite page shows control shared again');
  await expert.keyboard.press('w');
  check(!!(await until('input after the give-back', async () =>
    (await customer.inputs()).slice(beforeTaken).find((m) => m.type === 'key_up' && m.key === 'w'))),
  'given back, the expert\'s key reaches the customer again');
  await rep.selectOption(`#participants li[data-pid="${danaId}"] select.set-profile`, 'full');
  const fc = await until('full controls', async () => {
    const c = await evaluate(expert, 'invite controls', () => window.tandemPage.controls());
    return c.clipboard ? c : null;
  });
  check(!!fc && fc.kinds.includes('clipboard_to_customer') && await visible(expert, '#clipboard-send'),
    `after the change to full, the clipboard controls too: ${JSON.stringify(fc)}`);
  await expert.fill('#clipboard-text', 'from the expert');
  await expert.click('#clipboard-send');
  const clip = await until('clipboard at the customer', async () =>
    (await customer.inputs()).find((m) => m.type === 'clipboard_to_customer'));
  check(!!clip && clip.text === 'from the expert', 'the full expert\'s clipboard text reaches the customer');

  // 9. The used link; removal; the end.
  const again = await expertCtx.newPage();
  watch(again, 'second invite');
  await withTimeout(again.goto(link), EVAL_TIMEOUT_MS, 'open the link again');
  // Another tab of the same context keeps no sessionStorage: a fresh visit.
  if (await until('join form again', () => visible(again, '#join-form'), 5000)) {
    await again.fill('#display-name', 'Mallory');
    await again.click('#join-submit');
  }
  const usedText = await shownText(again, '#refused-view', '#join-error', 'used message');
  check(/already been used/i.test(usedText || ''), `the used link is refused: "${usedText}"`);
  await shot(args, again, 'invite-used');
  // A second invite, revoked from the console before anyone used it.
  await rep.selectOption('#invite-profile', 'control');
  await rep.click('#invite-create');
  const link2 = await until('second invite link', async () => {
    const v = await withTimeout(rep.inputValue('#invite-link'), EVAL_TIMEOUT_MS, 'invite link');
    return v !== link && v;
  });
  await rep.click('#invites li:first-child button.revoke');
  await until('revoked in the list', async () => /revoked/.test(await text(rep, '#invites')));
  await withTimeout(again.goto('about:blank'), EVAL_TIMEOUT_MS, 'blank');
  await withTimeout(again.goto(link2 || `${origin}/invite.html`), EVAL_TIMEOUT_MS, 'open the revoked link');
  if (await until('join form (revoked link)', () => visible(again, '#join-form'), 5000)) {
    await again.fill('#display-name', 'Mallory');
    await again.click('#join-submit');
  }
  const revokedText = await shownText(again, '#refused-view', '#join-error', 'revoked message');
  check(/withdrawn/i.test(revokedText || ''), `a revoked link is refused: "${revokedText}"`);
  // An invite that expires: made through the API with the console's own
  // credential (the console offers 30 minutes at least), opened after its
  // expiry time.
  const repCred = await evaluate(rep, 'console credential',
    () => JSON.parse(sessionStorage.getItem('tandem.console.session')));
  const shortInv = await withTimeout(fetch(`${origin}/api/v1/sessions/${repCred.session_id}/invites`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tandem-Secret': repCred.secret },
    body: JSON.stringify({ profile: 'view_only', ttl_s: 1 }),
  }).then((r) => r.json()), 10000, 'short invite');
  while (Date.now() < shortInv.expires_s * 1000 + 1100) await sleep(200);
  await withTimeout(again.goto('about:blank'), EVAL_TIMEOUT_MS, 'blank');
  await withTimeout(again.goto(shortInv.link || `${origin}/invite.html`), EVAL_TIMEOUT_MS, 'open the expired link');
  if (await until('join form (expired link)', () => visible(again, '#join-form'), 5000)) {
    await again.fill('#display-name', 'Mallory');
    await again.click('#join-submit');
  }
  const expiredText = await shownText(again, '#refused-view', '#join-error', 'expired message');
  check(/expired/i.test(expiredText || ''), `an expired link is refused: "${expiredText}"`);
  await withTimeout(again.goto(`${origin}/invite.html`), EVAL_TIMEOUT_MS, 'open a link without a token');
  const noToken = await shownText(again, '#refused-view', '#join-error', 'no-token message');
  check(/no invite in it/i.test(noToken || ''), `a link without its token is explained: "${noToken}"`);
  await again.close();

  // Removal needs a confirming second click.
  const rm = `#participants li[data-pid="${danaId}"] button.remove`;
  await rep.click(rm);
  await rep.click(rm);
  const removed = await until('removed', async () => (await visible(expert, '#over-view')) && text(expert, '#over-text'));
  check(/removed/i.test(removed || ''), `the removed expert's page says so: "${removed}"`);
  check(await until('presence without Dana', async () => !/Dana/.test(await text(rep, '#participants'))),
    'the console no longer lists the expert');

  // Another rep (without Rep Invite) joins by the session's id; the owner
  // hands the session over; the new owner ends it.
  const rep2 = await rep2Ctx.newPage();
  watch(rep2, 'second console');
  await withTimeout(rep2.goto(`${origin}/`), EVAL_TIMEOUT_MS, 'open the second console');
  await until('login form', () => visible(rep2, '#login-form'));
  await login(rep2, REP2.name, REP2.password);
  await until('lobby', () => visible(rep2, '#lobby-view'));
  await rep2.fill('#rep-join-id', (await text(rep, '#session-id')).trim());
  await rep2.click('#rep-join');
  check(await until('second rep in', () => visible(rep2, '#session-view')), 'another rep joins by the session id');
  check(!(await visible(rep2, '#invite-panel')) && !(await visible(rep2, '#end-session')),
    'a rep without Rep Invite gets no invite panel, a rep who is not the owner no End button');
  const bobRow = '#participants li[data-kind="rep"]:has-text("bob") button.transfer';
  await until('bob listed', () => visible(rep, bobRow));
  await rep.click(bobRow);
  check(await until('bob owns', async () => (await visible(rep2, '#end-session')) && !(await visible(rep, '#end-session'))),
    'the owner hands the session over: the End button moves to the new owner\'s console');
  await rep2.click('#end-session');
  await rep2.click('#end-session');
  const over = await shownText(rep, '#over-view', '#over-title', 'ended');
  check(/ended/i.test(over || ''), `the new owner ends the session; the first console says: "${over}"`);
  await rep2.close();
  const evs = await until('customer hears the end', async () => {
    const e = await customer.events();
    return e.some((m) => m.event === 'ended') ? e : null;
  });
  check(!!evs, 'the customer\'s socket hears the end');
  const closedCode = await until('customer socket closed', () => customer.closed());
  check(closedCode === 1000, `and is closed by the service (${closedCode})`);

  check(requests.elsewhere === 0,
    `the pages made ${requests.all} requests, ${requests.elsewhere} outside the service and the relay`);

  // 10. A lost connection: the service stops under an open session, the
  // console says so; the service comes back and the console reconnects.
  await rep.click('#over-back');
  await rep.click('#open-session');
  check(await until('second session', async () => (await visible(rep, '#session-view')) &&
    !!(await evaluate(rep, 'console state', () => window.tandemPage.state()))), 'the rep opens another session');
  // A reload comes back to the session (the credential is in sessionStorage).
  const sid = (await evaluate(rep, 'console session', () => window.tandemPage.me())).session_id;
  await withTimeout(rep.reload(), EVAL_TIMEOUT_MS, 'reload the console');
  check(await until('session after reload', async () => (await visible(rep, '#session-view')) &&
    (await text(rep, '#session-id')) === sid), 'after a reload the console is back in its session');
  await stopService(procs.signal);
  const lost = await until('lost banner', async () => (await visible(rep, '#banner')) && text(rep, '#banner'));
  check(/lost the connection/i.test(lost || ''), `the console shows the lost connection: "${lost}"`);
  await shot(args, rep, 'console-lost');
  procs.signal = start('tandem-signal', args.signal, args.signalArgv);
  await procs.signal.waitFor(/listening on (http:\/\/)?[0-9.]+:[0-9]+/, 10000);
  check(await until('reconnected', async () => !(await visible(rep, '#banner'))),
    'after the service restarts, the console reconnects to its session');
  // No customer in this session: input says it went nowhere.
  await rep.click('#screen');
  await rep.keyboard.press('b');
  const offline = await shownText(rep, '#input-error', '#input-error', 'customer offline');
  check(/customer is not connected/i.test(offline || ''), `input without a customer is reported: "${offline}"`);
  await rep.click('#end-session');
  await rep.click('#end-session');
  check(await until('second end', () => visible(rep, '#over-view')), 'the owner ends the second session');
}

// SIGTERM, and the exit status must be 0.
async function stopService(p) {
  const how = await stopProc(p);
  check(how === 0, `${p.name} exits with status ${how} after SIGTERM`);
}

run({
  name: 'signal-browser',
  watchdogMs: WATCHDOG_MS,
  stopOrder: ['share', 'signal', 'relay'],
  mustExit0: ['signal', 'relay'],
  body: async ({ work, procs, setBrowser }) => {
    const args = parseStackArgs(process.argv.slice(2));
    const origin = `http://127.0.0.1:${SIGNAL_PORT}`;
    const s = signalSetup(args.signal, work, {
      origin, relayPort: RELAY_PORT, users: [
        { ...REP, argv: ['--role', 'rep', '--may-invite', '--invite-profiles', 'view_only,pointer,control,full'] },
        { ...REP2, argv: ['--role', 'rep'] },
      ],
    });
    ok('rep accounts added with tandem-signal user add');
    args.signalArgv = await startServices(procs, args, s,
      { origin, relayPort: RELAY_PORT, signalPort: SIGNAL_PORT });
    const browser = await launchChromium(args.chromium);
    setBrowser(browser);
    const ctxs = [];
    for (let i = 0; i < 4; i++) ctxs.push(await newContext(browser, { width: 1280, height: 800 }));
    await ctxs[0].grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    await story(args, ctxs, origin, procs);
  },
});
