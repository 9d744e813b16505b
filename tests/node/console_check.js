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
//
// What a user at a projector sees (each failed on the console before its fix):
// - the header is one line at 1280 and 1600 px, even with a long status pill (cut with an
//   ellipsis, the full text in its title);
// - the "accepted" message after a click covers no chart (1280x720 and 1600x1000);
// - with 200 hosts, band names sit in one row above each plot, none over the data;
// - the inference run's per-request fault labels are counted in one row per fault, not one row
//   each, so the fault started from the page keeps its row in the label list.
// Screenshots, light and dark at 1280x720 and 1920x1080: console-{fleet,200}-{light,dark}-WxH.png.
'use strict';
const fs = require('fs');
const path = require('path');
const { check, sleep, poll, get, shot: shotIn, watch, run, headerOneLine, toastOverCharts,
    recordCanvasText, bandNames } = require('./console_lib.js');

const [fleet, metrics, faultsUrl, token, outDir, hosts200] = process.argv.slice(2);
const shot = (page, name, fullPage) => shotIn(page, path.join(outDir, name), fullPage);
const SIZES = [[1280, 720], [1920, 1080]];

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

// Light and dark screenshots at each of SIZES, from the top of the page.
async function themes(page, name) {
    for (const [w, h] of SIZES) {
        await page.setViewportSize({ width: w, height: h });
        for (const scheme of ['light', 'dark']) {
            await page.emulateMedia({ colorScheme: scheme });
            await sleep(700); // the charts rebuild in the theme's colours
            await shot(page, `console-${name}-${scheme}-${w}x${h}.png`, false);
        }
    }
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.emulateMedia({ colorScheme: 'light' });
}

// The header on one line at 1280 and 1600 px with a long status pill: the page shows a world
// (the live one, changed) with two entities out of health and a fault of a long name active.
async function header(page) {
    const w = await get(fleet + '/api/world');
    const set = (name, state) => { const e = w.entities.find((x) => x.name === name); if (e) e.state = state; };
    set('ppdb002', 'critical');
    set('ppweb001', 'degrading');
    w.faults = [...(w.faults || []), { name: 'a-fault-with-a-rather-long-name-for-a-projector', target: 'ppdb002', active: true }];
    for (const width of [1280, 1600]) {
        await page.setViewportSize({ width, height: 900 });
        await page.evaluate((world) => (window.diorama.showWorld ? window.diorama.showWorld(world) // (older pages: the text)
            : (document.querySelector('#summary').textContent = 'ppdb002 critical \u00b7 ppweb001 degrading \u00b7 fault ' + world.faults.at(-1).name)), w);
        await sleep(100);
        const h = await headerOneLine(page);
        check(`header: one line at ${width} px with a long status pill (${Math.round(h.height)} px high)`,
            h.ok && h.pageWidth <= h.viewport && h.overflow <= 0, h);
        const pill = await page.evaluate(() => { const p = document.querySelector('#summary');
            return { text: p.textContent, cut: p.scrollWidth > p.clientWidth, title: p.title }; });
        check(`header: at ${width} px the status pill, when cut, has its full text in its title (${pill.cut ? 'cut' : 'whole'})`,
            pill.text.includes('ppdb002 critical') && (!pill.cut || pill.title.startsWith(pill.text)), pill);
    }
    await page.setViewportSize({ width: 1600, height: 1000 });
}

// The label list's rows for a state change degrading -> critical -> healthy and a fault
// incident, fed to the page's own LabelList in both orders the stream may give (a period's end
// line before or after the next begin line of the same instant): one row per change, the end
// line completing its row (it was a second "degrading → critical" row), no row per request.
async function labelRows(page) {
    const got = await page.evaluate(async () => {
        const { LabelList } = await import('/console/timeline.js');
        const t = 1.7e18, s = 1e9;
        const L = (o) => ({ target: 'h1', kind: 'state', source: 'command', end_unix_nano: null, ...o });
        const deg = L({ state: 'degrading', from: 'healthy', id: 1, phase: 'begin', start_unix_nano: t });
        const degEnd = L({ state: 'degrading', id: 1, phase: 'end', start_unix_nano: t, end_unix_nano: t + 5 * s });
        const crit = L({ state: 'critical', from: 'degrading', id: 2, phase: 'begin', start_unix_nano: t + 5 * s });
        const critEnd = L({ state: 'critical', id: 2, phase: 'end', start_unix_nano: t + 5 * s, end_unix_nano: t + 9 * s });
        const f = { target: 'm', kind: 'latency_spike', fault: 'f', variant: 'default', scope: 'incident', id: 3, start_unix_nano: t };
        const fb = { ...f, source: 'command', phase: 'begin', end_unix_nano: null }, fe = { ...fb, phase: 'end', end_unix_nano: t + 20 * s };
        const blip = { ...f, scope: 'request', source: 'every', start_unix_nano: t + s, end_unix_nano: t + s + 1e6 };
        const out = [];
        for (const seq of [[deg, degEnd, crit, critEnd, fb, blip, fe], [deg, crit, degEnd, fb, blip, critEnd, fe]]) {
            const ul = document.createElement('ul');
            const list = new LabelList(ul, document.createElement('span'), document.createElement('ul'));
            seq.forEach((l, i) => { list.add(i + 1, l); list.flush(); });
            out.push([...ul.children].map((li) => li.querySelector('.what').textContent + '|' + li.querySelector('.phase').textContent));
        }
        return out;
    });
    const want = ['f (default): latency_spike|20 s', 'critical \u2192 healthy|', 'degrading \u2192 critical|4 s', 'healthy \u2192 degrading|5 s'];
    for (const [i, rows] of got.entries())
        check(`label list: one row per change, end lines complete their row (order ${i + 1})`,
            rows.length === want.length && [...rows].sort().every((r, j) => r === [...want].sort()[j]), rows);
}

// After a click that changes something: the message shows and covers no chart.
async function toastClear(page, what) {
    const t = await poll(5, () => toastOverCharts(page).then((r) => r.shown && r));
    check(`toast after ${what}: shown, over no chart (${t && t.box})`, t && t.over.length === 0, t);
}

async function stateFlow(ctx) {
    const origin = new URL(fleet).origin;
    const page = await ctx.newPage();
    const log = watch(page, origin);
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

    await labelRows(page);
    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, 'console-light.png', true);
    await themes(page, 'fleet');
    await header(page);

    const before = await poll(15, () => busyCpu('ppdb002'));
    check(`ppdb002's CPU is on /metrics before (${before && before.toFixed(2)})`, before !== null && before < 0.6, before);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.locator('#hosts .host[data-entity="ppdb002"]').click();
    check('the inspector shows ppdb002', (await page.locator('#sel-name').textContent()) === 'ppdb002');
    const t0 = Date.now();
    await page.locator('#state-buttons button[data-state="degrading"]').click();
    await toastClear(page, '"degrading" at 1280x720');
    await page.setViewportSize({ width: 1600, height: 1000 });
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

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('#state-buttons button[data-state="healthy"]').click();
    await toastClear(page, '"healthy" at 1600x1000');
    check('healthy restores it', await poll(10, async () => (await get(fleet + '/api/entities/ppdb002')).state === 'healthy'));
    check('the page shows it healthy again', await poll(10, () => page.evaluate(() =>
        document.querySelector('#hosts .host[data-entity="ppdb002"]').classList.contains('st-healthy'))));
    check('no console or page errors', log.errors.length === 0, log.errors);
    check(`no request outside ${origin} (${log.requests} made)`, log.outside.length === 0 && log.requests > 0, log.outside);
    await page.close();
}

async function faultFlow(ctx) {
    const origin = new URL(faultsUrl).origin;
    const page = await ctx.newPage();
    const log = watch(page, origin);
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
    await toastClear(page, `${f.name} Start`);
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
    await requestLabels(page, f.name);
    const streams = log.urls.filter((u) => new URL(u).pathname === '/api/stream');
    check(`the page streams one-request labels as counts (${streams.join(' ')})`,
        streams.length > 0 && streams.every((u) => new URL(u).searchParams.get('labels') === 'incident'), streams);
    await shot(page, 'console-faults.png', true);
    await row.locator('button.stop').click();
    const off = await poll(10, async () => !(await get(faultsUrl + '/api/world')).faults.find((x) => x.name === f.name).active);
    check(`${f.name} stopped from the page is not active`, off);
    check('faults page: no console or page errors', log.errors.length === 0, log.errors);
    check(`faults page: no request outside ${origin}`, log.outside.length === 0, log.outside);
    await page.close();
}

// inference labels every 50th/100th request of some models (scope request): they are counted
// in one row per fault (#blips), and the label list keeps its rows for incidents.
async function requestLabels(page, started) {
    const api = (await get(faultsUrl + '/api/labels?after=0')).labels.map((x) => x.label);
    const perRequest = api.filter((l) => l.scope === 'request');
    const faults = new Set(perRequest.map((l) => l.fault + '\u0000' + l.target));
    check(`inference has per-request labels (${perRequest.length} of ${faults.size} faults)`, perRequest.length > 0);
    await sleep(2000); // the page has applied them
    const seen = await page.evaluate(() => ({
        rows: [...document.querySelectorAll('#labels li')].map((li) => [li.dataset.target,
            li.querySelector('.what').textContent, li.querySelector('.source').textContent]),
        groups: [...document.querySelectorAll('#blips li')].map((li) => [li.dataset.fault, li.dataset.target,
            Number(li.dataset.count), li.querySelector('.count').textContent]),
    }));
    const flood = seen.rows.filter((r) => r[2] === 'every' || r[2] === 'probability');
    check(`per-request labels are not rows of the label list (${flood.length} of ${seen.rows.length})`, flood.length === 0, flood.slice(0, 3));
    check(`per-request labels: one counted row per fault (${seen.groups.length} rows for ${faults.size} faults: ${seen.groups.slice(0, 2).map((g) => g[0] + ' ' + g[3]).join(', ')})`,
        seen.groups.length >= 1 && seen.groups.length <= faults.size &&
        new Set(seen.groups.map((g) => g[0] + '\u0000' + g[1])).size === seen.groups.length &&
        seen.groups.some((g) => g[2] > 1 && /\d\/s$/.test(g[3])), seen.groups);
    check(`the label list keeps ${started}'s row among the per-request flood`, seen.rows.some((r) => r[1].startsWith(started)), seen.rows.slice(0, 5));
}

// 200 hosts: every tile drawn, the charts fed, band names above the plots, screenshots.
async function bigFlow(ctx) {
    const origin = new URL(hosts200).origin;
    const page = await ctx.newPage();
    const log = watch(page, origin);
    await recordCanvasText(page);
    await page.goto(hosts200 + '/');
    check('200 hosts: the world loads', await poll(20, () => page.evaluate(() => document.body.dataset.ready === '1')));
    const tiles = await page.locator('#hosts .host').count();
    check(`200 hosts: one tile each (${tiles})`, tiles === 200, tiles);
    check('200 hosts: the stream feeds the charts', await poll(20, () => page.evaluate(() => Number(document.body.dataset.aggs || 0) >= 5)));
    const bands = await poll(30, async () => { // some bands named (state changes come every few seconds)
        const b = await bandNames(page);
        return b.some((c) => c.names > 0) && b;
    });
    check(`200 hosts: band names drawn (${bands && bands.map((c) => c.names).join(' ')})`, bands, bands);
    if (bands) {
        const bad = bands.filter((c) => c.inside > 0 || c.rows > 1);
        check(`200 hosts: band names on one row above the plot, none over the data (${bands.length} charts)`, bad.length === 0, bad);
    }
    await shot(page, 'console-200.png', true);
    await themes(page, '200');
    check('200 hosts: no console or page errors', log.errors.length === 0, log.errors);
    check(`200 hosts: no request outside ${origin}`, log.outside.length === 0, log.outside);
    await page.close();
}

run('console', async (ctx) => {
    fs.mkdirSync(outDir, { recursive: true });
    await stateFlow(ctx);
    await faultFlow(ctx);
    if (hosts200)
        await bigFlow(ctx);
});
