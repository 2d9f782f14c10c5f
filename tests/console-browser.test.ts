/**
 * Scenario: a steward opens the console of a hub in Debian's Chromium (driven by playwright-core)
 * while the demo fleet replays a drought over MQTT through the real pipeline (broker, ingest with
 * its spool and privacy boundary, embedded store, rules engine with the default rules, API):
 * the page loads without console errors and shows all four commons; new readings and the aquifer
 * depletion alert arrive without a reload; the steward signs in with the keyboard and acknowledges
 * the alert, which the alerts API then reports; the page reconnects after the API restarts; at
 * phone width nothing scrolls sideways and every chart has a text alternative. The overview is
 * saved to docs/console-overview.png (when missing, or with STEWARD_UPDATE_SCREENSHOTS=1).
 *
 * Needs Chromium (`apt-get install chromium`; scripts/test.sh installs it when missing), or
 * CHROMIUM_PATH pointing at a Chromium/Chrome binary.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHub, HUB_TOKENS, startConsoleHub } from '../console/testing.ts';
import { expectNoPersonalData } from './harness/privacy.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** `expect.poll` with room for a slow CI machine (its default gives up after 1 s). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 50 });
const DOCS_SCREENSHOT = fileURLToPath(new URL('../docs/console-overview.png', import.meta.url));
/** The README's screenshot is rewritten only when missing or asked for (STEWARD_UPDATE_SCREENSHOTS=1), so test runs leave the tree clean. */
const SCREENSHOT = !existsSync(DOCS_SCREENSHOT) || process.env.STEWARD_UPDATE_SCREENSHOTS === '1' ? DOCS_SCREENSHOT : join(tmpdir(), `steward-console-overview-${process.pid}.png`);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Chromium as root on a closed network: no sandbox, no background connections, a fresh profile. */
async function launch(): Promise<{ ctx: BrowserContext; profile: string }> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (scripts/test.sh does), or set CHROMIUM_PATH`);
  const profile = mkdtempSync(join(tmpdir(), 'steward-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  return { ctx, profile };
}

describe('the console in a browser', () => {
  let hub: ConsoleHub;
  let ctx: BrowserContext;
  let profile: string;
  let page: Page;
  const errors: string[] = [];
  const simStart = Date.now() - 8 * DAY;
  let simAt = simStart;

  /** Replays the fleet up to `to` (simulated = sensor time, ending at the real now) and waits for storage. */
  async function replayTo(to: number): Promise<void> {
    await hub.replay(simAt, to, { evaluateEveryMs: 3 * HOUR });
    simAt = to + 1;
    await hub.drained();
  }

  beforeAll(async () => {
    hub = await startConsoleHub({ stream: { retryMs: 300, heartbeatMs: 5000 } });
    // 30 hours of a drought already under way: history for the sparklines, no alert yet.
    await replayTo(simStart + 30 * HOUR);
    ({ ctx, profile } = await launch());
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await hub?.close();
  });

  it('loads without console errors and shows all four commons with their stocks', async () => {
    expect((await (await fetch(`${hub.url}/api/v1/alerts?state=firing`)).json()).alerts).toEqual([]);
    await page.goto(`${hub.url}/`);
    await poll(() => page.locator('h1').textContent()).toBe('Hub demo: overview');
    for (const domain of ['water', 'energy', 'soil', 'biodiversity']) {
      const section = page.locator(`section[data-domain="${domain}"]`);
      await section.locator('article.stock').first().waitFor();
      expect(await section.locator('h2').textContent()).toBe(domain[0]!.toUpperCase() + domain.slice(1));
    }
    // Stocks with their numbers and sparklines.
    await poll(() => page.locator('article[data-metric="groundwater_level"]').count()).toBe(2);
    await poll(() => page.locator('article[data-metric="groundwater_level"] canvas').count()).toBe(2);
    expect(await page.locator('article[data-sensor="well-2"][data-metric="groundwater_level"] .stock-limit').textContent()).toMatch(/(above|under) the safe minimum of 39 m/); // the instant level swings about 2 m with the daily pumping
    await poll(() => page.locator('.live').textContent()).toContain('Live');
    expect(await page.locator('.active-alerts').textContent()).toContain('No alert is firing or pending');
    expect(errors).toEqual([]);
  });

  it('a new reading appears without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const time = page.locator('article[data-sensor="battery-1"][data-metric="battery_soc"] .updated time');
    const before = await time.getAttribute('datetime');
    await replayTo(simAt + 3 * HOUR);
    const [newest] = await hub.store.latest({ hub: 'demo', sensor: 'battery-1' }).then((l) => l.filter((e) => e.metric === 'battery_soc'));
    expect(newest).toBeDefined();
    await poll(() => time.getAttribute('datetime')).toBe(new Date(newest!.ts).toISOString());
    expect(before).not.toBe(new Date(newest!.ts).toISOString());
    expect(await page.locator('article[data-sensor="battery-1"][data-metric="battery_soc"] .value').getAttribute('value')).toBe(String(newest!.value));
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  });

  it('running the drought on, the aquifer depletion alert appears live', async () => {
    const alert = page.locator('.active-alerts [data-alert-id="demo.aquifer-depletion.well-2"]');
    expect(await alert.count()).toBe(0);
    await replayTo(Date.now() - 60_000);
    await alert.waitFor({ timeout: 20_000 });
    // Projected to reach the floor, or (when the replay's last readings are in before the page
    // shows the alert, as on a loaded machine) already below it: both are the same alert.
    expect(await alert.textContent()).toMatch(/Aquifer at well-2 \(demo\) (is projected to reach|is at \d+(\.\d+)? m, already below) its safe minimum of 39 m/);
    expect(await alert.locator('.sev').textContent()).toBe('critical');
    // One truth: well-2's card shows the level the alert quotes (the fitted 24-hour mean, not the raw
    // reading of a pumped well), its badge is the alert's, and its trend says what it was fitted over.
    const card = page.locator('article.stock[data-sensor="well-2"][data-metric="groundwater_level"]');
    // The alert quotes "level now 39.4 m", or "is at 38.96 m, already below…" once past the floor
    // (with the digits that set it apart from the floor); the card's number, to those digits, is it.
    await poll(async () => {
      const quoted = /(?:level now|is at) (\d+(?:\.\d+)?) m/.exec((await alert.textContent()) ?? '')?.[1];
      const value = await card.locator('.stock-value data.value').getAttribute('value');
      return { quoted, card: value === null ? undefined : Number(value).toFixed(quoted?.split('.')[1]?.length ?? 0) };
    }).toSatisfy((x: { quoted?: string; card?: string }) => x.quoted !== undefined && x.card === x.quoted);
    expect(await card.locator('.badge').textContent()).toBe('Alert');
    expect(await card.locator('.stock-trend').textContent()).toMatch(/^Trend fitted over the last 3 days of 24-hour means, as the rule computed it\.$/);
    await poll(() => page.locator('nav a[href="#/alerts"] .pill').textContent()).toMatch(/^[12]$/);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    // The announcement for screen readers.
    expect(await page.locator('[aria-live="polite"]').textContent()).toMatch(/New critical alert|Resolved|^$/);
    expect(errors).toEqual([]);
    // Observers' names, emails and phones and household ids went into the pipeline; none reaches the page.
    expect(hub.personal.size).toBeGreaterThan(3);
    expectNoPersonalData(await page.content(), [...hub.personal], 'the overview page');
    expectNoPersonalData(await (await fetch(`${hub.url}/api/v1/console/biodiversity`)).text(), [...hub.personal], '/api/v1/console/biodiversity');
    // The overview for the README, once every chart has drawn.
    await page.waitForTimeout(500);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(50_000);
    if (SCREENSHOT !== DOCS_SCREENSHOT) rmSync(SCREENSHOT, { force: true });
  });

  it('a steward signs in with the keyboard and acknowledges the alert; /api/v1/alerts has it', async () => {
    // Focus order: skip link, the four views, then sign-in.
    await page.locator('body').focus();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => (document.activeElement?.textContent ?? '').replace(/\s+/g, ' ').trim()));
    }
    expect(order[0]).toBe('Skip to content');
    expect(order.slice(1, 5).map((t) => t.replace(/ \d+$/, ''))).toEqual(['Overview', 'Alerts', 'Readings', 'Sensors']);
    expect(order[5]).toBe('Steward sign-in');
    await page.keyboard.press('Enter');
    await poll(() => page.evaluate(() => document.activeElement?.id)).toBe('token');
    await page.keyboard.type(HUB_TOKENS.steward);
    await page.keyboard.press('Enter');
    await poll(() => page.locator('.signin .who').textContent()).toContain('Signed in as stew');

    await page.locator('nav a[href="#/alerts"]').click();
    const card = page.locator('li.alert-card[data-alert-id="demo.aquifer-depletion.well-2"]');
    await card.waitFor();
    const ack = card.getByRole('button', { name: /^Acknowledge/ });
    await ack.focus();
    await page.keyboard.press('Enter');
    await poll(() => card.locator('.acked').textContent()).toMatch(/acknowledged by stew/);
    const res = (await (await fetch(`${hub.url}/api/v1/alerts?state=firing`)).json()) as { alerts: Array<{ id: string; acknowledged: { by: string } | null }> };
    expect(res.alerts.find((a) => a.id === 'demo.aquifer-depletion.well-2')?.acknowledged?.by).toBe('stew');

    // Silence the other well's forecast while its pump is serviced, then end the silence.
    const other = page.locator('li.alert-card[data-alert-id="demo.aquifer-depletion.well-1"]');
    await other.getByRole('button', { name: /^Silence/ }).click();
    await other.getByLabel('For').selectOption('1d');
    await other.getByLabel('Reason').fill('pump 1 serviced this week');
    await other.getByRole('button', { name: 'Silence', exact: true }).click();
    const row = page.locator('ul.silences li', { hasText: 'pump 1 serviced this week' });
    await row.waitFor();
    const silences = (await (await fetch(`${hub.url}/api/v1/silences?status=active`)).json()) as { silences: Array<{ matchers: Record<string, string>; createdBy: string; comment: string }> };
    expect(silences.silences).toEqual([expect.objectContaining({ matchers: { hub: 'demo', rule: 'aquifer-depletion', subject: 'well-1' }, createdBy: 'stew', comment: 'pump 1 serviced this week' })]);
    await row.getByRole('button', { name: /^End silence/ }).click();
    await poll(() => row.textContent()).toMatch(/ended/);
    expect(((await (await fetch(`${hub.url}/api/v1/silences?status=active`)).json()) as { silences: unknown[] }).silences).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('sensors show when each was last heard from; a technician sees what ingest refused and why', async () => {
    // A piezometer misreads: 99 999 m is outside the catalogue's range, so ingest refuses it.
    await hub.publish('well-1', { ts: Date.now(), seq: 9_100_000, metrics: { groundwater_level: 99_999 } });
    await hub.drained();
    await page.locator('nav a[href="#/sensors"]').click();
    const row = page.locator('table.sensors tr[data-sensor="battery-1"]');
    await row.waitFor();
    expect(await row.locator('td').nth(3).textContent()).toMatch(/online|offline/);
    expect(await row.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await page.locator('#rejections-h + p').textContent()).toMatch(/shown to technicians/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Steward sign-in' }).click();
    await page.getByLabel('Access token').fill(HUB_TOKENS.technician);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const rejected = page.locator('section[aria-labelledby="rejections-h"] tbody tr', { hasText: 'out_of_range' });
    await rejected.first().waitFor();
    expect(await rejected.first().textContent()).toContain('well-1');
    expect(errors).toEqual([]);
  });

  it('at phone width nothing scrolls sideways, and every chart has a text alternative', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('about:blank');
    await page.goto(`${hub.url}/#/overview`);
    await page.locator('section[data-domain="biodiversity"] article.stock').first().waitFor();
    await poll(() => page.locator('.plot[role="img"] canvas').count()).toBeGreaterThan(8);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    for (const view of ['alerts', 'readings', 'sensors']) {
      await page.locator(`nav a[href="#/${view}"]`).click();
      await page.locator('h1').first().waitFor();
      await page.waitForTimeout(300);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), view).toBeLessThanOrEqual(390);
    }
    // The sensors table on a phone: State and Last reading are on screen, not scrolled off to the right.
    await page.locator('nav a[href="#/sensors"]').click();
    await page.locator('table.sensors tbody tr').first().waitFor();
    for (const name of ['State', 'Last reading']) {
      const box = await page.getByRole('columnheader', { name, exact: true }).boundingBox();
      expect(box, name).not.toBeNull();
      expect((box?.x ?? 0) + (box?.width ?? 0), name).toBeLessThanOrEqual(390);
    }
    await page.locator('nav a[href="#/overview"]').click();
    await poll(() => page.locator('.plot[role="img"] canvas').count()).toBeGreaterThan(8);
    const charts = await page.locator('figure.spark').evaluateAll((figs) =>
      figs.map((f) => ({ label: f.querySelector('[role="img"]')?.getAttribute('aria-label') ?? '', rows: f.querySelectorAll('tbody tr').length })),
    );
    expect(charts.length).toBeGreaterThan(8);
    for (const c of charts) {
      expect(c.label).toMatch(/ between .+ and .+, mean .+, now /);
      expect(c.rows).toBeGreaterThan(0);
    }
    // The Readings chart: a caption and a data table a keyboard user can reveal.
    await page.locator('nav a[href="#/readings"]').click();
    await page.locator('figure.chart figcaption').waitFor();
    expect(await page.locator('figure.chart figcaption').textContent()).toMatch(/^Aquifer level at well-1, mean per/);
    const toggle = page.getByRole('button', { name: 'Show the data as a table' });
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('figure.chart table tbody tr').count()).toBeGreaterThan(10);
    expect(errors).toEqual([]);
  });
  it('reconnects after the API restarts and shows what arrived meanwhile', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.locator('nav a[href="#/overview"]').click();
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const value = page.locator('article[data-sensor="battery-1"][data-metric="battery_soc"] .value');
    await value.waitFor();
    const restarted = hub.restartApi(1500);
    await poll(() => page.locator('.live').getAttribute('class')).toContain('live-reconnecting');
    // Stored while the API is down: no stream to tell the page.
    await hub.publish('battery-1', { ts: Date.now(), seq: 9_000_001, metrics: { battery_soc: 12.5, battery_energy: 2500 } });
    await hub.drained();
    await restarted;
    await poll(() => page.locator('.live').getAttribute('class')).toContain('live-live');
    await poll(() => value.getAttribute('value')).toBe('12.5');
    // And live again over the new stream.
    await hub.publish('battery-1', { ts: Date.now(), seq: 9_000_002, metrics: { battery_soc: 13.5, battery_energy: 2700 } });
    await poll(() => value.getAttribute('value')).toBe('13.5');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    // The only errors allowed: the browser reporting requests the restart cut or refused.
    expect(errors.filter((e) => !/net::ERR_CONNECTION_(REFUSED|RESET)|status of 503/.test(e) || !e.includes(hub.url))).toEqual([]);
  });
});
