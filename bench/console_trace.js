// Records how smoothly the web console draws: opens CONSOLE_URL in headless Chromium, lets it
// settle, then for SECONDS records a Chromium performance trace (devtools.timeline) while the
// page measures its own animation frames. Prints one JSON object:
//   longest_task_ms   the longest RunTask on the page's renderer main thread (from the trace)
//   tasks_over_50ms   how many main-thread tasks took longer than 50 ms
//   longest_frame_ms  the longest gap between two requestAnimationFrame callbacks
//   frames_over_50ms  frames that took longer than 50 ms
//   aggregates        per-second aggregates the page received while recording
//   longest_task_cpu_ms  the same task measured in the renderer thread's CPU time (tdur): a
//                     task long in wall time but short in CPU time waited for a busy machine
//   tasks_over_50ms_cpu  main-thread tasks over 50 ms of thread CPU time
//   js_max_ms         the most thread CPU time our scripts (the console's origin) spent inside
//                     one main-thread task: callbacks, event handlers, animation frames (not
//                     playwright's injected scripts)
//   js_p99_ms         its 99th percentile over the tasks that ran our scripts
//   load              the machine's 1-minute load average before and after recording
//
//   NODE_PATH=tests/node/node_modules node bench/console_trace.js CONSOLE_URL SECONDS [TRACE.json]
//   (CONSOLE_DIR=DIR: the page's own files from DIR, e.g. another commit's web/console)
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

const [url, secondsArg, traceOut] = process.argv.slice(2);
const seconds = Number(secondsArg || 20);

// Main-thread tasks of the page's renderer: wall time (dur), thread CPU time (tdur) and the
// thread CPU time of the console's own scripts inside each (outermost script events only:
// FunctionCall, EventDispatch, FireAnimationFrame, TimerFire... nest inside each other).
const JS_EVENTS = new Set(['FunctionCall', 'EventDispatch', 'FireAnimationFrame', 'TimerFire',
    'FireIdleCallback', 'EvaluateScript', 'v8.evaluateModule', 'RunMicrotasks']);
// Playwright's own injected scripts (clicks, evaluate) run as EvaluateScript/FunctionCall
// without the page's URL: not the console's work.
let origin = '';
function ours(e) {
    const u = e.args && e.args.data && e.args.data.url;
    return e.name === 'EvaluateScript' || e.name === 'FunctionCall' || e.name === 'v8.evaluateModule'
        ? typeof u === 'string' && u.startsWith(origin) : true;
}
function mainThreadTasks(trace) {
    const events = trace.traceEvents || trace;
    const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' &&
        e.args && e.args.name === 'CrRendererMain').map((e) => e.pid + ':' + e.tid));
    const onMain = events.filter((e) => e.ph === 'X' && mains.has(e.pid + ':' + e.tid))
        .sort((a, b) => a.ts - b.ts);
    const tasks = [];
    let cur = null, jsEnd = -1;
    for (const e of onMain) {
        if (e.name === 'RunTask') {
            cur = { wall: e.dur / 1000, cpu: (e.tdur ?? e.dur) / 1000, js: 0, end: e.ts + e.dur };
            tasks.push(cur);
            jsEnd = -1;
        } else if (cur && e.ts < cur.end && JS_EVENTS.has(e.name) && e.ts >= jsEnd && ours(e)) {
            cur.js += (e.tdur ?? e.dur) / 1000;
            jsEnd = e.ts + e.dur;
        }
    }
    return tasks;
}

(async () => {
    origin = new URL(url).origin;
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
        const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
        if (process.env.CONSOLE_DIR) // the page's files from DIR (e.g. an older web/console), side by side
            await page.route(/\/(index\.html|console\/[^/]+)?$/, (route) => {
                const p = new URL(route.request().url()).pathname;
                const file = require('path').join(process.env.CONSOLE_DIR, p === '/' ? 'index.html' : require('path').basename(p));
                if (!fs.existsSync(file))
                    return route.continue();
                return route.fulfill({ status: 200, body: fs.readFileSync(file),
                    contentType: { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }[require('path').extname(file)] });
            });
        await page.goto(url);
        // (waitForFunction would eval a string in the page, which the console's CSP forbids)
        for (let i = 0; i < 120 && await page.evaluate(() => Number(document.body.dataset.aggs || 0)) < 3; i++)
            await page.waitForTimeout(250);
        await page.waitForTimeout(2000);
        const aggs0 = await page.evaluate(() => Number(document.body.dataset.aggs || 0));
        await page.evaluate(() => {
            window.__frames = [];
            let last = performance.now();
            const tick = (t) => {
                window.__frames.push(t - last);
                last = t;
                if (!window.__stop)
                    requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        });
        const path = traceOut || require('os').tmpdir() + '/console-trace-' + process.pid + '.json';
        await browser.startTracing(page, { path, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
        // what a presenter does meanwhile: scroll, select hosts (each selection re-targets a host chart)
        const names = await page.evaluate(() => [...document.querySelectorAll('#hosts .host')].map((h) => h.dataset.entity));
        const load0 = require('os').loadavg()[0];
        const t0 = Date.now();
        for (let i = 0; Date.now() - t0 < seconds * 1000; i++) {
            await page.locator(`#hosts .host[data-entity="${names[(i * 37) % names.length]}"]`).click();
            await page.mouse.wheel(0, i % 2 ? 600 : -600);
            await page.waitForTimeout(1000);
        }
        await browser.stopTracing();
        const frames = await page.evaluate(() => { window.__stop = true; return window.__frames.slice(1); });
        const aggs = (await page.evaluate(() => Number(document.body.dataset.aggs || 0))) - aggs0;
        const tasks = mainThreadTasks(JSON.parse(fs.readFileSync(path, 'utf8')));
        if (!traceOut)
            fs.rmSync(path, { force: true });
        const r = (v) => Math.round(v * 10) / 10;
        const wall = tasks.map((t) => t.wall), cpu = tasks.map((t) => t.cpu);
        const js = tasks.map((t) => t.js).filter((v) => v > 0).sort((a, b) => a - b);
        console.log(JSON.stringify({
            seconds, hosts: names.length,
            longest_task_ms: r(Math.max(0, ...wall)), tasks: tasks.length,
            tasks_over_50ms: wall.filter((d) => d > 50).length,
            longest_task_cpu_ms: r(Math.max(0, ...cpu)),
            tasks_over_50ms_cpu: cpu.filter((d) => d > 50).length,
            js_max_ms: r(js.length ? js[js.length - 1] : 0),
            js_p99_ms: r(js.length ? js[Math.floor(js.length * 0.99)] : 0),
            load: [r(load0), r(require('os').loadavg()[0])],
            longest_frame_ms: r(Math.max(0, ...frames)), frames: frames.length,
            frames_over_50ms: frames.filter((d) => d > 50).length, aggregates: aggs,
        }));
    } finally {
        await browser.close();
    }
})().catch((e) => {
    console.error(e && e.stack || e);
    process.exit(1);
});
