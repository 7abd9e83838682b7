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
    const context = await browser.newContext({
      javaScriptEnabled: false,
      locale: 'en-US',
      extraHTTPHeaders: { 'Accept-Language': 'en-US,en;q=0.9' },
      viewport: { width: 390, height: 844 },
      isMobile: true,
      deviceScaleFactor: 2,
    });
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

    // The journey and the badge (English, from Accept-Language): the item's
    // second scan.
    await page.goto(itemUrl);
    const badge = (await page.textContent('#badge')) || '';
    check(badge.includes('Verified in the signed batch log'), 'the verified badge is shown');
    const verdict = (await page.textContent('#verdict')) || '';
    check(/ledger: log entry #\d+ in checkpoint of size \d+/.test(verdict), 'the badge names the ledger entry');
    check((await page.locator('#verdict.bad').count()) === 0, 'no red warning');
    const events = await page.locator('#journey li.event').count();
    check(events >= 3, `the journey lists ${events} events`);
    check((await page.locator('#journey .provided-by').count()) === events, 'every event says who provided it');
    const providers = await page.locator('#journey .provided-by').allTextContents();
    check(providers.every((p) => /. \((brand|wh|carrier|broker|agency)-\d+\)$/.test(p)), `every provider is named, with its org_id (--orgs): ${providers.join(' | ')}`);
    check((await page.locator('#product').count()) === 1, 'the product section is shown');
    check((await page.locator('#inspections dl.inspection').count()) >= 1, 'inspections are shown');
    check((await page.locator('#customs dl.declaration').count()) >= 1, 'customs declarations are shown');
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(fits, 'the page fits a phone screen without sideways scrolling');
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-verified-en.png'), fullPage: true });

    // The language switch, there and back, and the zone form: changes of
    // view, which are not scans.
    await Promise.all([page.waitForNavigation(), page.click('#lang-switch')]);
    check(((await page.textContent('#badge')) || '').includes('已在签名批次日志中验证'), 'the switch link shows Chinese');
    check((await page.getAttribute('html', 'lang')) === 'zh-CN', 'html lang is zh-CN');
    await Promise.all([page.waitForNavigation(), page.click('#lang-switch')]);
    check((await page.getAttribute('html', 'lang')) === 'en', 'the switch link goes back to English');
    await page.selectOption('select[name="tz"]', 'UTC');
    await Promise.all([page.waitForNavigation(), page.click('footer button[type="submit"]')]);
    check(((await page.textContent('#zone')) || '').includes('UTC'), 'the zone form shows times in UTC');
    check(((await page.textContent('#scans')) || '').includes('Scans of this code: 2;'), 'the switches were not counted as scans');
    // Another code scanned in the same browser leaves this code's token (a cookie per code).
    await page.goto(`${BASE_URL}/s/${other.code}`);
    await page.goto(`${itemUrl}?lang=en`);
    check(((await page.textContent('#scans')) || '').includes('Scans of this code: 2;'), 'a choice of view after scanning another code is not counted');

    // Wrong PINs on the other code until it is rate-limited; then even its
    // right PIN is refused.
    await page.goto(`${BASE_URL}/s/${other.code}?lang=en`);
    for (let left = 4; left >= 1; left -= 1) {
      const r = await submitPin(page, wrongPin(other.pin));
      const leftText = left === 1 ? '1 attempt left.' : `${left} attempts left.`;
      check(r.status === 422 && r.result.includes(`Wrong PIN. ${leftText}`), `wrong PIN: ${left} left`);
    }
    let r = await submitPin(page, wrongPin(other.pin));
    check(r.result.includes('Too many wrong PINs. Try again after'), 'the fifth wrong PIN locks the code');
    r = await submitPin(page, other.pin);
    check(r.status === 429 && r.result.includes('Too many wrong PINs'), 'a locked code refuses even its right PIN');
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-rate-limited.png'), fullPage: true });

    // The right PIN confirms the item (its third scan); a rescan (the
    // fourth) warns of a copy.
    await page.goto(itemUrl);
    r = await submitPin(page, item.pin);
    check(r.status === 200 && r.result.includes('PIN correct'), 'the right PIN is confirmed');
    check((await page.locator('input[name="pin"]').count()) === 0, 'no PIN form once confirmed');
    await page.goto(itemUrl);
    const warning = (await page.textContent('#copy-warning')) || '';
    check(warning.includes('this label may be a copy'), 'a rescan shows the copy warning');
    check(/scanned 4 times, first on \d{4}-\d\d-\d\d \d\d:\d\d/.test(warning), 'with the scan count and first-scan time');
    // What the phone shows first, without scrolling.
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'consumer-copy-warning.png') });

    // An unknown code: a red page, still HTML.
    const unknown = await page.goto(`${BASE_URL}/s/UNKNOWN-CODE-000000?lang=en`);
    check(unknown.status() === 404, 'an unknown code is 404');
    check(((await page.textContent('#verdict.bad')) || '').includes('Unknown code'), 'with a red warning');
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
