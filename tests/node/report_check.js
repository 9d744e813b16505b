// Checks a `diorama load` HTML report in headless Chromium (playwright-core driving Debian's
// /usr/bin/chromium) and the report's "hdr" field with an independent HdrHistogram decoder.
//
//   node report_check.js REPORT.html REPORT.json SCREENSHOT.png
//
// Page: no console errors or page errors, no dialogs (the sample's URL carries
// "</script><script>alert(1)"), no network requests, exactly three <script> elements, two uPlot
// canvases with non-zero size, the summary numbers of the JSON in the DOM, the URL shown
// literally in the title. HDR: hdr-histogram-js decodes "hdr" to the same count and percentiles.
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
    for (const [p, key] of [[50, 'p50'], [90, 'p90'], [99, 'p99'], [99.9, 'p999']]) {
        const v = h.getValueAtPercentile(p);
        // Both report a value inside the same counter: equal to 0.1% (3 significant digits).
        check('hdr ' + key, Math.abs(v - lat[key]) <= lat[key] * 0.001 + 1, [v, lat[key]]);
    }
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
        }));
        check('no console or page errors', errors.length === 0, errors);
        check('no dialogs', dialogs.length === 0, dialogs);
        check('no network requests', requests.length === 0, requests);
        check('three <script> elements', dom.scripts === 3, dom.scripts);
        check('two charts drawn', dom.charts === '2', dom.charts);
        check('two uPlot canvases', dom.canvases.length === 2, dom.canvases);
        check('canvases have size', dom.canvases.every(([w, h]) => w > 100 && h > 100), dom.canvases);
        check('URL literal in title', dom.title === 'diorama load: ' + report.url, dom.title);
        check('requests in DOM', dom.cells['s-requests'] === String(report.requests), dom.cells);
        check('errors in DOM', dom.cells['s-errors'] === String(report.errors), dom.cells);
        check('dropped in DOM', dom.cells['s-dropped'] === String(report.dropped), dom.cells);
        check('p99 in DOM', dom.cells['l-p99'] === fmtMs(report.latency_us.p99), dom.cells);
        check('max in DOM', dom.cells['l-max'] === fmtMs(report.latency_us.max), dom.cells);
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
