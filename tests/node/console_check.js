// Drives the web console of a running `diorama up` in headless Chromium (playwright-core and
// Debian's /usr/bin/chromium) the way a presenter would, and checks every step through the
// page, the control API, a /metrics scrape and the label API.
//
//   node console_check.js FLEET_URL METRICS_URL FAULTS_URL TOKEN OUT_DIR [HOSTS200_URL]
//
// FLEET_URL: the control listener of `diorama up fleet` (token TOKEN); METRICS_URL: its
// /metrics base; FAULTS_URL: the control listener of a run whose scenario has faults (no
// token). OUT_DIR gets console-light.png, console-dark.png and console-faults.png, and with
// HOSTS200_URL (a run of bench/data/console_200.yaml) console-200.png.
//
// Checks: no console or page errors; no request leaves the listener's origin (every request
// is recorded); the world renders (one tile per host of /api/world, one node per service and
// model); the stream feeds the charts; clicking ppdb002 then "degrading" sends the token and
// is accepted, GET /api/entities/ppdb002 says degrading (source command), the host's CPU on
// /metrics rises over the next scrapes, the label shows in the page's list and in /api/labels;
// "healthy" restores it; a fault started from the page is active in /api/world and labelled,
// and stopped from the page it is not.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [fleet, metrics, faultsUrl, token, outDir, hosts200] = process.argv.slice(2);
const failures = [];
let checks = 0;
function check(what, cond, detail) {
    checks++;
    console.log((cond ? 'ok   ' : 'FAIL ') + what + (!cond && detail !== undefined ? ': ' + JSON.stringify(detail).slice(0, 600) : ''));
    if (!cond)
        failures.push(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A screenshot from the top of the page (a full-page one taken scrolled down draws the sticky
// header in the middle).
async function shot(page, name, fullPage) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(outDir, name), fullPage });
}
async function poll(seconds, fn) { // until fn() is truthy; returns its last value
    const end = Date.now() + seconds * 1000;
    let v;
    while (!(v = await fn().catch(() => false)) && Date.now() < end)
        await sleep(250);
    return v;
}
async function get(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok)
        throw new Error(url + ': ' + r.status);
    return r.headers.get('content-type').startsWith('application/json') ? r.json() : r.text();
}

// ppdb002's busy CPU (1 - idle, averaged over its CPUs) on one scrape, or null.
async function busyCpu(host) {
    const text = await get(metrics + '/metrics');
    let n = 0, sum = 0;
    for (const line of text.split('\n')) {
        if (!line.startsWith('system_cpu_utilization_ratio{') || !line.includes('"' + host + '"'))
            continue;
        if (!/(cpu_mode|mode|state)="idle"/.test(line))
            continue;
        n++;
        sum += 1 - Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return n ? sum / n : null;
}

function watch(page, origin, log) {
    page.on('console', (m) => { if (m.type() === 'error') log.errors.push(m.text()); });
    page.on('pageerror', (e) => log.errors.push(String(e)));
    page.on('request', (r) => {
        log.requests++;
        if (new URL(r.url()).origin !== origin && !r.url().startsWith('data:'))
            log.outside.push(r.url());
    });
}

async function stateFlow(ctx) {
    const origin = new URL(fleet).origin;
    const log = { errors: [], outside: [], requests: 0 };
    const page = await ctx.newPage();
    watch(page, origin, log);
    const auths = [];
    page.on('request', (r) => { if (r.method() !== 'GET') auths.push(r.headers().authorization || ''); });
    await page.goto(fleet + '/#token=' + encodeURIComponent(token));
    check('the page loads the world', await poll(15, () => page.evaluate(() => document.body.dataset.ready === '1')));
    check('the token left the address bar', !page.url().includes('token'), page.url());
    const world = await get(fleet + '/api/world');
    const graph = await get(fleet + '/console/graph.json');
    const hosts = world.entities.filter((e) => e.kind === 'host').length;
    const tiles = await page.locator('#hosts .host').count();
    check(`one tile per host (${tiles} of ${hosts})`, tiles === hosts && hosts > 0, [tiles, hosts]);
    const nodes = await page.locator('#graph .node').count();
    check(`one graph node per service and model (${nodes})`, nodes === graph.services.length + graph.models.length, nodes);
    const edges = await page.locator('#graph .edge').count();
    check(`the call graph has its edges (${edges})`, edges >= graph.services.reduce((n, s) => n + s.calls.length, 0) && edges > 0, edges);
    check('the stream feeds the charts (3 aggregates)', await poll(20, () => page.evaluate(() => Number(document.body.dataset.aggs || 0) >= 3)));
    check('the connection says live', (await page.locator('#conn').textContent()) === 'live', await page.locator('#conn').textContent());
    const canvases = await page.evaluate(() => [...document.querySelectorAll('#charts .uplot canvas')].map((c) => c.width));
    check(`charts drawn (${canvases.length})`, canvases.length >= 5 && canvases.every((w) => w > 100), canvases);

    // time ticks: whole seconds, at least a second and 100 px apart, written HH:MM:SS / HH:MM
    // (uPlot's default put half-second ticks on a chart holding its first seconds)
    const ticks = await page.evaluate(() => window.diorama.charts.charts.filter((c) => c.u).map((c) => ({
        splits: c.u.axes[0]._splits, values: c.u.axes[0]._values, width: c.u.bbox.width / devicePixelRatio })));
    const badTicks = ticks.filter((t) => !t.splits || t.splits.some((v, i) => !Number.isInteger(v) ||
        (i && v - t.splits[i - 1] < 1)) || t.values.some((v) => !/^\d\d:\d\d(:\d\d)?$/.test(v)) ||
        t.splits.length > t.width / 100 + 1);
    check(`x-axis ticks: whole seconds, >= 100 px apart, HH:MM[:SS] (${ticks.length} charts, e.g. ${ticks[0] && ticks[0].values.join(' ')})`,
        ticks.length >= 5 && badTicks.length === 0, badTicks.slice(0, 2));
    // a chart's first seconds (a 3 s window): no half-second ticks
    const early = await page.evaluate(() => {
        const u = window.diorama.charts.charts[0].u, t0 = Math.floor(u.data[0][0]);
        u.setScale('x', { min: t0, max: t0 + 3 });
        const r = { splits: [...u.axes[0]._splits], values: [...u.axes[0]._values] };
        u.setData(u.data); // back to the data's range
        return r;
    });
    check(`x-axis ticks over a 3 s window: whole seconds (${early.values.join(' ')})`,
        early.splits.length >= 1 && early.splits.every((v, i) => Number.isInteger(v) && (!i || v - early.splits[i - 1] >= 1)), early);

    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, 'console-light.png', true);

    const before = await poll(15, () => busyCpu('ppdb002'));
    check(`ppdb002's CPU is on /metrics before (${before && before.toFixed(2)})`, before !== null && before < 0.6, before);
    await page.locator('#hosts .host[data-entity="ppdb002"]').click();
    check('the inspector shows ppdb002', (await page.locator('#sel-name').textContent()) === 'ppdb002');
    const t0 = Date.now();
    await page.locator('#state-buttons button[data-state="degrading"]').click();
    check('the change carried the token', auths.length === 1 && auths[0] === 'Bearer ' + token, auths);
    const st = await poll(10, async () => (await get(fleet + '/api/entities/ppdb002')).state === 'degrading' && await get(fleet + '/api/entities/ppdb002'));
    check('GET /api/entities/ppdb002: degrading, source command', st && st.source === 'command', st);
    check('the page shows ppdb002 degrading', await poll(10, () => page.evaluate(() =>
        document.querySelector('#hosts .host[data-entity="ppdb002"]').classList.contains('st-degrading') &&
        document.querySelector('#state-buttons [data-state="degrading"]').getAttribute('aria-pressed') === 'true')));
    // the CPU rises over the next scrapes: two in a row above the baseline
    let rose = 0, last = before;
    await poll(30, async () => {
        const v = await busyCpu('ppdb002');
        rose = v !== null && v > before + 0.2 ? rose + 1 : 0;
        last = v;
        return rose >= 2;
    });
    check(`/metrics: ppdb002's CPU rose (${before && before.toFixed(2)} -> ${last && last.toFixed(2)}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`, rose >= 2, [before, last]);
    const inPage = await poll(10, () => page.evaluate(() => [...document.querySelectorAll('#labels li')]
        .some((li) => li.dataset.target === 'ppdb002' && li.textContent.includes('degrading') && li.textContent.includes('command'))));
    check('the label is in the page\'s timeline', inPage);
    const labels = await get(fleet + '/api/labels?after=0');
    check('GET /api/labels has it (source command)', labels.labels.some((l) => l.label.target === 'ppdb002' &&
        l.label.state === 'degrading' && l.label.source === 'command'), labels.labels.slice(-3));
    const shaded = await page.evaluate(() => [...window.diorama.periods.all()].some((p) => p.target === 'ppdb002' && p.end == null));
    check('the charts shade ppdb002\'s open period', shaded);
    const hostChart = await page.locator('.host-chart .host-title').first().textContent();
    check('the selected host has the first host chart', hostChart === 'ppdb002', hostChart);

    await page.emulateMedia({ colorScheme: 'dark' });
    await sleep(300);
    await shot(page, 'console-dark.png', true);

    await page.locator('#state-buttons button[data-state="healthy"]').click();
    check('healthy restores it', await poll(10, async () => (await get(fleet + '/api/entities/ppdb002')).state === 'healthy'));
    check('the page shows it healthy again', await poll(10, () => page.evaluate(() =>
        document.querySelector('#hosts .host[data-entity="ppdb002"]').classList.contains('st-healthy'))));
    check('no console or page errors', log.errors.length === 0, log.errors);
    check(`no request outside ${origin} (${log.requests} made)`, log.outside.length === 0 && log.requests > 0, log.outside);
    await page.close();
}

async function faultFlow(ctx) {
    const origin = new URL(faultsUrl).origin;
    const log = { errors: [], outside: [], requests: 0 };
    const page = await ctx.newPage();
    watch(page, origin, log);
    await page.goto(faultsUrl + '/');
    check('faults page: the world loads', await poll(15, () => page.evaluate(() => document.body.dataset.ready === '1')));
    const world = await get(faultsUrl + '/api/world');
    check('GET /api/world lists faults (live API)', Array.isArray(world.faults) && world.faults.length > 0, Object.keys(world));
    if (!Array.isArray(world.faults) || !world.faults.length) {
        await page.close();
        return;
    }
    const f = world.faults[0];
    const row = page.locator(`#faults .fault[data-fault="${f.name}"]`);
    check(`a row per fault (${world.faults.length})`, await page.locator('#faults .fault').count() === world.faults.length);
    await row.locator('select.duration').selectOption('5m');
    const labelsBefore = (await get(faultsUrl + '/api/labels?after=0')).last;
    await row.locator('button.start').click();
    const on = await poll(10, async () => (await get(faultsUrl + '/api/world')).faults.find((x) => x.name === f.name).active);
    check(`${f.name} started from the page is active`, on);
    if (!on) { // the rest needs it running: one failure, not a 30 s wait for a disabled button
        await shot(page, 'console-faults.png', true);
        await page.close();
        return;
    }
    check('the page marks it active', await poll(10, () => row.evaluate((r) => r.classList.contains('on'))));
    const pill = await poll(10, async () => { // it said "all healthy" with a fault active
        const t = await page.locator('#summary').textContent();
        return t !== 'all healthy' && t.includes(f.name) && t;
    });
    check(`the header pill names the active fault (${pill || await page.locator('#summary').textContent()})`, pill);
    const lab = await poll(10, async () => (await get(faultsUrl + '/api/labels?after=' + labelsBefore)).labels
        .find((l) => l.label.fault === f.name && l.label.source === 'command'));
    check(`${f.name} is labelled (source command)`, lab, lab);
    await shot(page, 'console-faults.png', true);
    await row.locator('button.stop').click();
    const off = await poll(10, async () => !(await get(faultsUrl + '/api/world')).faults.find((x) => x.name === f.name).active);
    check(`${f.name} stopped from the page is not active`, off);
    check('faults page: no console or page errors', log.errors.length === 0, log.errors);
    check(`faults page: no request outside ${origin}`, log.outside.length === 0, log.outside);
    await page.close();
}

// 200 hosts: every tile drawn, the charts fed, a screenshot.
async function bigFlow(ctx) {
    const origin = new URL(hosts200).origin;
    const log = { errors: [], outside: [], requests: 0 };
    const page = await ctx.newPage();
    watch(page, origin, log);
    await page.goto(hosts200 + '/');
    check('200 hosts: the world loads', await poll(20, () => page.evaluate(() => document.body.dataset.ready === '1')));
    const tiles = await page.locator('#hosts .host').count();
    check(`200 hosts: one tile each (${tiles})`, tiles === 200, tiles);
    check('200 hosts: the stream feeds the charts', await poll(20, () => page.evaluate(() => Number(document.body.dataset.aggs || 0) >= 5)));
    await shot(page, 'console-200.png', true);
    check('200 hosts: no console or page errors', log.errors.length === 0, log.errors);
    check(`200 hosts: no request outside ${origin}`, log.outside.length === 0, log.outside);
    await page.close();
}

(async () => {
    fs.mkdirSync(outDir, { recursive: true });
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'diorama-console-'));
    const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1600, height: 1000 },
    });
    try {
        await stateFlow(ctx);
        await faultFlow(ctx);
        if (hosts200)
            await bigFlow(ctx);
    } finally {
        await ctx.close();
        fs.rmSync(profile, { recursive: true, force: true });
    }
    console.log(`${checks - failures.length} passed, ${failures.length} failed`);
    process.exit(failures.length ? 1 : 0);
})().catch((e) => {
    console.log('FAIL: ' + (e && e.stack || e));
    process.exit(1);
});
