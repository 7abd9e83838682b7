// Drives headless Chromium through the consumer page of a running
// `proofmark serve`, with JavaScript disabled (the page must not need it) and
// a phone-sized viewport. Run by scripts/test-browser.sh, which sets:
//
//   BASE_URL        the server, e.g. http://127.0.0.1:PORT
//   PINS_CSV        the sample's secrets file (code,pin)
//   CHROMIUM        the Chromium executable
//   SCREENSHOT_DIR  where the screenshots go
//
// `playwright-core` is found through NODE_PATH. Exits non-zero on the first
// failed check, naming it.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE_URL = env('BASE_URL');
const CHROMIUM = env('CHROMIUM');
// A phone without JavaScript, in English: every browser context of the test.
const PHONE = {
  javaScriptEnabled: false,
  locale: 'en-US',
  extraHTTPHeaders: { 'Accept-Language': 'en-US,en;q=0.9' },
  viewport: { width: 390, height: 844 },
  isMobile: true,
  deviceScaleFactor: 2,
};
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const pins = fs
  .readFileSync(env('PINS_CSV'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.trim().split(','));

let checks = 0;
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

function wrongPin(pin) {
  return pin === '00000000' ? '11111111' : '00000000';
}

async function submitPin(page, pin) {
  await page.fill('input[name="pin"]', pin);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('#pin button[type="submit"]'),
  ]);
  return { status: response.status(), result: (await page.textContent('#pin-result')) || '' };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();

    // The first sample codes that the server knows; unknown codes are 404
    // and are not counted as scans.
    const known = [];
    for (const [code, pin] of pins) {
      const response = await page.goto(`${BASE_URL}/s/${code}`);
      if (response.status() === 200) known.push({ code, pin });
      else check(response.status() === 404, `code ${code} is 200 or 404`);
      if (known.length === 2) break;
    }
    check(known.length === 2, 'two sample codes are served');
    const [item, other] = known;
    const itemUrl = `${BASE_URL}/s/${item.code}`;

    // The journey and the badge (English, from Accept-Language): a view of the
    // page this browser scanned, not a scan.
    await page.goto(itemUrl);
    const badge = (await page.textContent('#badge')) || '';
    check(badge.includes("Verified: this product's records are authentic and unaltered"), 'the verified badge is shown');
    const verdict = (await page.textContent('#verdict')) || '';
    check(/Entry \d+ of the signed batch log “ledger”, signed when the log reached entry \d+/.test(verdict), 'the badge names the ledger entry');
    check(verdict.includes('(not a blockchain)'), 'the ledger is not called a blockchain');
    check(!(await page.isVisible('#anchors li.anchor')), 'the anchors are folded away');
    await page.click('#anchors summary');
    check(await page.isVisible('#anchors li.anchor'), 'the technical details open without JavaScript');
    check((await page.locator('#verdict.bad').count()) === 0, 'no red warning');
    const events = await page.locator('#journey li.event').count();
    check(events >= 3, `the journey lists ${events} events`);
    const providers = await page.locator('.provided-by').allTextContents();
    check(providers.length === events, `every record is shown once with who provided it (${providers.length} of ${events})`);
    check((await page.locator('#journey .provided-by').count()) === (await page.locator('#journey li.event.logistics').count()), 'the journey names the provider of its logistics events');
    check(providers.every((p) => /. \((brand|wh|carrier|broker|agency)-\d+\)$/.test(p)), `every provider is named, with its org_id (--orgs): ${providers.join(' | ')}`);
    check((await page.locator('#product').count()) === 1, 'the product section is shown');
    check((await page.locator('#inspections dl.inspection').count()) >= 1, 'inspections are shown');
    check((await page.locator('#customs dl.declaration').count()) >= 1, 'customs declarations are shown');
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(fits, 'the page fits a phone screen without sideways scrolling');
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-verified-en.png'), fullPage: true });

    // The language switch, there and back, and the zone form: changes of
    // view, which are not scans.
    check((await page.getAttribute('#lang-switch', 'lang')) === 'zh-CN', 'the switch link is marked as Chinese');
    await Promise.all([page.waitForNavigation(), page.click('#lang-switch')]);
    check(((await page.textContent('#badge')) || '').includes('验证通过'), 'the switch link shows Chinese');
    check((await page.getAttribute('html', 'lang')) === 'zh-CN', 'html lang is zh-CN');
    await Promise.all([page.waitForNavigation(), page.click('#lang-switch')]);
    check((await page.getAttribute('html', 'lang')) === 'en', 'the switch link goes back to English');
    await page.selectOption('select[name="tz"]', 'UTC');
    await Promise.all([page.waitForNavigation(), page.click('footer button[type="submit"]')]);
    check(((await page.textContent('#zone')) || '').includes('UTC'), 'the zone form shows times in UTC');
    check(((await page.textContent('#scans')) || '').includes('Scans of this code: 1;'), 'the views and switches were not counted as scans');
    for (let i = 0; i < 3; i += 1) await page.reload();
    check(((await page.textContent('#scans')) || '').includes('Scans of this code: 1;'), 'reloading the page is not counted');
    // Another code scanned in the same browser leaves this code's token (a cookie per code).
    await page.goto(`${BASE_URL}/s/${other.code}`);
    await page.goto(`${itemUrl}?lang=en`);
    check(((await page.textContent('#scans')) || '').includes('Scans of this code: 1;'), 'a view after scanning another code is not counted');

    // Wrong PINs on the other code until it is rate-limited; then the form is
    // shown disabled, with the time it opens again.
    await page.goto(`${BASE_URL}/s/${other.code}?lang=en`);
    for (let left = 4; left >= 1; left -= 1) {
      const r = await submitPin(page, wrongPin(other.pin));
      const leftText = left === 1 ? '1 attempt left.' : `${left} attempts left.`;
      check(r.status === 422 && r.result.includes(`Wrong PIN. ${leftText}`), `wrong PIN: ${left} left`);
      check((await page.getAttribute('input[name="pin"]', 'aria-describedby')) === 'pin-result', 'the refused field is described by the answer');
    }
    let r = await submitPin(page, wrongPin(other.pin));
    check(r.result.includes('Too many wrong PINs. Try again after'), 'the fifth wrong PIN locks the code');
    check(await page.isDisabled('#pin button[type="submit"]'), 'the locked form is disabled');
    await page.goto(`${BASE_URL}/s/${other.code}?lang=en`);
    check(((await page.textContent('#pin-result')) || '').includes('Try again after'), 'a page of the locked code says when to try again');
    check(await page.isDisabled('input[name="pin"]'), 'with the form disabled');
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-rate-limited.png'), fullPage: true });

    // The right PIN confirms the item; reloading that answer (the browser
    // posts the PIN again) says this browser confirmed it, without the copy
    // warning; a later visit from this browser warns of a copy and says so.
    await page.goto(itemUrl);
    r = await submitPin(page, item.pin);
    check(r.status === 200 && r.result.includes('PIN correct'), 'the right PIN is confirmed');
    check((await page.locator('input[name="pin"]').count()) === 0, 'no PIN form once confirmed');
    const reload = await page.reload();
    check(reload.request().method() === 'POST', 'the reload posts the PIN again');
    const again = (await page.textContent('#pin-result')) || '';
    check(again.includes('PIN correct: you confirmed it from this browser at'), `the reload says this browser confirmed it: ${again}`);
    check((await page.locator('#copy-warning').count()) === 0, 'without the copy warning');
    await page.goto(itemUrl);
    let warning = (await page.textContent('#copy-warning')) || '';
    check(warning.includes('this label may be a copy'), 'a later visit shows the copy warning');
    check(/scanned once, on \d{4}-\d\d-\d\d \d\d:\d\d/.test(warning), 'with the scan count and first-scan time');
    check(((await page.textContent('#confirmed-here')) || '').includes('This browser confirmed the PIN at'), 'and that this browser confirmed the PIN');
    check(((await page.textContent('#badge')) || '').includes('Records authentic, but this label may be copied'), 'the badge does not vouch for the label');
    // What the phone shows first, without scrolling.
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-copy-warning.png') });

    // A rescan in another browser: the warning, counted, without that sentence.
    const elsewhere = await browser.newContext(PHONE);
    const rescan = await elsewhere.newPage();
    await rescan.goto(itemUrl);
    warning = (await rescan.textContent('#copy-warning')) || '';
    check(warning.includes('this label may be a copy'), 'a rescan elsewhere shows the copy warning');
    check(/scanned 2 times, first on \d{4}-\d\d-\d\d \d\d:\d\d/.test(warning), 'with the scan count and first-scan time');
    check((await rescan.locator('#confirmed-here').count()) === 0, 'without saying that browser confirmed it');
    await rescan.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-copy-warning-elsewhere.png') });
    await elsewhere.close();

    // A page of another site whose form posts a PIN to this server (Chromium says where the
    // post comes from): refused, the PIN not checked, and the code's page to enter it on.
    const elsewhereForm = await browser.newContext(PHONE);
    const evil = await elsewhereForm.newPage();
    const form = `<form method="post" action="${BASE_URL}/s/${other.code}/pin?lang=en">`
      + `<input name="pin" value="${wrongPin(other.pin)}"><button type="submit">go</button></form>`;
    // The other page is served by the browser's own routing (no server needed) at a real
    // origin: another site, and this site on another port (same site, another origin); a
    // data: URL is a third (its origin is opaque, "null").
    const otherPort = new URL(BASE_URL).port === '9' ? '10' : '9';
    const origins = [
      ['another site', 'http://shop.example/pin.html'],
      ['this host on another port', `http://127.0.0.1:${otherPort}/pin.html`],
    ];
    for (const [, url] of origins) {
      await elsewhereForm.route(url, (route) => route.fulfill({ contentType: 'text/html', body: form }));
    }
    for (const [what, url] of [...origins, ['a data: URL', `data:text/html,${encodeURIComponent(form)}`]]) {
      await evil.goto(url);
      const [crossSite] = await Promise.all([evil.waitForNavigation(), evil.click('button')]);
      check(crossSite.status() === 403, `a PIN posted by a page of ${what} is refused (${crossSite.status()})`);
      check(((await evil.textContent('#pin-result')) || '').includes('This PIN was not checked'), 'with a page saying it was not checked');
    }
    await elsewhereForm.close();

    // An unknown code: a red page, still HTML.
    const unknown = await page.goto(`${BASE_URL}/s/UNKNOWN-CODE-000000?lang=en`);
    check(unknown.status() === 404, 'an unknown code is 404');
    check(((await page.textContent('#verdict.bad')) || '').includes('Code not found'), 'with a red warning');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log(`${checks} passed, 0 failed`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  console.log(`${checks} passed, 1 failed`);
  process.exit(1);
});
