// Checks a `diorama load` HTML report in headless Chromium (playwright-core driving Debian's
// /usr/bin/chromium) and the report's "hdr" field with an independent HdrHistogram decoder.
//
//   node report_check.js REPORT.html REPORT.json SCREENSHOT.png
//
// Page: no console errors or page errors, no dialogs (the sample's URL carries
// "</script><script>alert(1)"), no network requests, exactly three <script> elements, four uPlot
// canvases with non-zero size (latency, rate and errors over time, distribution), the summary
// numbers of the JSON in the DOM, the URL shown literally in the title. Read back from the
// charts: one latency scale (max on it, at or above p99 everywhere), an x axis spanning exactly
// the schedule (0 .. the end of the last timeline interval, never past the duration asked
// for), the rate and error series equal to the timeline's. HDR: hdr-histogram-js decodes "hdr"
// to the same count and percentiles.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const hdr = require('hdr-histogram-js');

const [htmlPath, jsonPath, shotPath] = process.argv.slice(2);
const report = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
const failures = [];
let checks = 0;
function check(what, cond, detail) {
    checks++;
    if (!cond)
        failures.push(what + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
}

function fmtMs(us) { // as load_html.c's fmt_ms
    return us < 1000 ? us + ' us' : (us / 1000).toFixed(2) + ' ms';
}

function checkHdr() {
    const h = hdr.decodeFromCompressedBase64(report.hdr, 64, false);
    const lat = report.latency_us;
    check('hdr total count', h.totalCount === lat.count, [h.totalCount, lat.count]);
    // With few samples a percentile's rank falls between two of them, and the two
    // implementations round it differently: compare percentiles only on a large histogram.
    if (lat.count < 1000)
        return;
    for (const [p, key] of [[50, 'p50'], [90, 'p90'], [99, 'p99'], [99.9, 'p999']]) {
        const v = h.getValueAtPercentile(p);
        // Both report a value inside the same counter: equal to 0.1% (3 significant digits).
        check('hdr ' + key, Math.abs(v - lat[key]) <= lat[key] * 0.001 + 1, [v, lat[key]]);
    }
}

const near = (a, b) => a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)));

function checkCharts(c) {
    const tl = report.timeline;
    const w = (e) => (e.width_s > 0 ? e.width_s : 1);
    const end = tl[tl.length - 1].t_s + w(tl[tl.length - 1]);
    for (const id of ['chart-time', 'chart-rate', 'chart-errors', 'chart-dist'])
        check(id + ' drawn', !!c[id], Object.keys(c));
    const lat = c['chart-time'], rate = c['chart-rate'], errs = c['chart-errors'];
    if (!lat || !rate || !errs)
        return;
    check('latency: one y scale for p50..max', new Set(lat.scales).size === 1 &&
        lat.yscales.length === 1, [lat.scales, lat.yscales]);
    check('latency: series p50 p90 p99 max', lat.labels.join() === 'p50,p90,p99,max', lat.labels);
    const p99 = lat.data[3], max = lat.data[4];
    check('latency: max >= p99 at every point', p99.every((v, i) => v === null || max[i] >= v),
        [p99, max]);
    check('latency: max is the timeline max', max.every((v, i) =>
        (tl[i].max_us === null ? v === null : near(v, tl[i].max_us / 1000))), max);
    for (const [name, u] of [['latency', lat], ['rate', rate], ['errors', errs]]) {
        check(name + ': x axis starts at 0', u.x[0] === 0, u.x);
        check(name + ': x axis ends at the end of the schedule (' + end + ' s)', near(u.x[1], end), u.x);
        check(name + ': x axis not past the duration asked for', u.x[1] <= report.planned_duration_s + 1e-9,
            [u.x, report.planned_duration_s]);
        check(name + ': every point inside the axis', u.data[0].every((x) => x > 0 && x < end), u.data[0]);
    }
    check('rate: sent series is the timeline\'s', rate.data[1].every((v, i) => near(v, tl[i].sent)));
    check('rate: responses series is the timeline\'s', rate.data[2].every((v, i) => near(v, tl[i].done)));
    check('errors: errors per second are the timeline\'s',
        errs.data[1].every((v, i) => near(v, tl[i].errors / w(tl[i]))));
    if (tl.some((e) => e.errors > 0))
        check('errors: some errors to see', errs.data[1].some((v) => v > 0));
}

async function checkPage() {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'diorama-chromium-'));
    // A fresh profile (--user-data-dir) per run: playwright takes it as the persistent
    // context's directory.
    const browser = await chromium.launchPersistentContext(profile, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1200, height: 900 },
    });
    try {
        const page = await browser.newPage();
        const errors = [], requests = [], dialogs = [];
        page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
        page.on('pageerror', (e) => errors.push(String(e)));
        page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
        page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
        await page.goto('file://' + path.resolve(htmlPath), { waitUntil: 'load' });
        await page.waitForFunction(() => document.body.getAttribute('data-charts') !== null,
            null, { timeout: 10000 }).catch(() => {});
        const dom = await page.evaluate(() => ({
            title: document.title,
            scripts: document.querySelectorAll('script').length,
            charts: document.body.getAttribute('data-charts'),
            canvases: [...document.querySelectorAll('.uplot canvas')].map((c) => {
                const r = c.getBoundingClientRect();
                return [r.width, r.height];
            }),
            cells: Object.fromEntries([...document.querySelectorAll('td[id]')]
                .map((td) => [td.id, td.textContent])),
            charts_by_id: Object.fromEntries(Object.entries(window.dioramaCharts || {}).map(
                ([id, u]) => [id, {
                    x: [u.scales.x.min, u.scales.x.max],
                    scales: u.series.slice(1).map((s) => s.scale),
                    labels: u.series.slice(1).map((s) => s.label),
                    yscales: Object.keys(u.scales).filter((k) => k !== 'x'),
                    data: u.data,
                }])),
        }));
        checkCharts(dom.charts_by_id);
        check('no console or page errors', errors.length === 0, errors);
        check('no dialogs', dialogs.length === 0, dialogs);
        check('no network requests', requests.length === 0, requests);
        check('three <script> elements', dom.scripts === 3, dom.scripts);
        check('four charts drawn', dom.charts === '4', dom.charts);
        check('four uPlot canvases', dom.canvases.length === 4, dom.canvases);
        check('canvases have size', dom.canvases.every(([w, h]) => w > 100 && h > 100), dom.canvases);
        check('URL literal in title', dom.title === 'diorama load: ' + report.url, dom.title);
        check('requests in DOM', dom.cells['s-requests'] === String(report.requests), dom.cells);
        check('errors in DOM', dom.cells['s-errors'] === String(report.errors), dom.cells);
        check('dropped in DOM', dom.cells['s-dropped'] === String(report.dropped), dom.cells);
        check('p99 in DOM', dom.cells['l-p99'] === fmtMs(report.latency_us.p99), dom.cells);
        check('max in DOM', dom.cells['l-max'] === fmtMs(report.latency_us.max), dom.cells);
        if (report.scenario)
            check('one row per route', report.routes.length > 0 &&
            report.routes.every((rt, i) => dom.cells['r-' + i + '-name'] === rt.method + ' ' + rt.path &&
                dom.cells['r-' + i + '-requests'] === String(rt.requests) &&
                dom.cells['r-' + i + '-errors'] === String(rt.errors) &&
                dom.cells['r-' + i + '-p99'] === fmtMs(rt.latency_us.p99)), [report.routes, dom.cells]);
        await page.screenshot({ path: shotPath, fullPage: true });
    } finally {
        await browser.close();
        fs.rmSync(profile, { recursive: true, force: true });
    }
}

(async () => {
    checkHdr();
    await checkPage();
    for (const f of failures)
        console.log('FAIL: ' + f);
    console.log(`${checks - failures.length} passed, ${failures.length} failed`);
    process.exit(failures.length ? 1 : 0);
})().catch((e) => {
    console.log('FAIL: ' + (e && e.stack || e));
    process.exit(1);
});
