// The console's entry point: loads the world's shape and state, follows the live stream and
// hands each event to the view that shows it (docs/console.md).
import { api, follow } from './api.js';
import { WorldView } from './world.js';
import { Store, Charts, readTheme } from './charts.js';
import { Periods, LabelList } from './timeline.js';
import { Controls } from './controls.js';

const $ = (s) => document.querySelector(s);
const THEME_KEY = 'diorama.theme';

// ---- theme: the system's by default, the toggle's once used -------------------------------
function applyTheme(t) {
    if (t)
        document.documentElement.dataset.theme = t;
    const dark = t ? t === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    $('#theme').textContent = dark ? 'Light' : 'Dark';
    $('#theme').title = 'switch to the ' + (dark ? 'light' : 'dark') + ' theme';
    return dark;
}

let toastTimer = 0;
function toast(msg, isError) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = isError ? 'show error' : 'show';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ''; }, isError ? 6000 : 3000);
}

const store = new Store();
const periods = new Periods();
const labels = new LabelList($('#labels'), $('#label-count'));
const controls = new Controls(document.body, toast);
const hostInfo = new Map();
const charts = new Charts($('#charts'), store, periods, (n) => hostInfo.get(n), () => controls.selected);
const view = new WorldView($('#world'), select);
let lastLabel = 0;
let drawQueued = false;

function select(name) {
    view.select(name);
    controls.select(name);
    draw();
}

// Charts redraw at most once per aggregate, whatever the number of events that arrived, a
// few charts per frame (Charts.step).
let redraw = false;
function draw() {
    redraw = true;
    if (drawQueued)
        return;
    drawQueued = true;
    const frame = () => {
        if (redraw) {
            redraw = false;
            charts.todo = null; // start over with the newest data
        }
        if (charts.step() || redraw)
            requestAnimationFrame(frame);
        else
            drawQueued = false;
    };
    requestAnimationFrame(frame);
}

function onWorld(w) {
    view.setStates(w.entities);
    controls.setWorld(w);
    $('#scenario').textContent = w.scenario;
    $('#scenario').title = 'run ' + w.run_id;
    const bad = w.entities.filter((e) => e.state !== 'healthy').length;
    $('#summary').textContent = bad ? bad + ' not healthy' : 'all healthy';
    $('#summary').className = bad ? 'pill warn' : 'pill ok';
}

function onLabel(ev) {
    if (!ev || ev.id <= lastLabel)
        return;
    lastLabel = ev.id;
    periods.add(ev.label);
    labels.add(ev.id, ev.label);
    draw();
}

function onAgg(a) {
    if (!store.push(a))
        return;
    view.setLoad(a.hosts);
    $('#clock').textContent = new Date(a.t).toISOString().slice(11, 19) + ' UTC';
    document.body.dataset.aggs = String(store.t.length);
    draw();
}

function setConn(state) {
    const c = $('#conn');
    c.textContent = { live: 'live', reconnecting: 'reconnecting\u2026', unavailable: 'polling' }[state] || state;
    c.className = 'pill ' + (state === 'live' ? 'ok' : 'warn');
}

// After a gap in the stream: what was missed (labels by id, aggregates by time).
async function catchUp() {
    try {
        const l = await api('GET', '/api/labels?after=' + lastLabel);
        l.labels.forEach(onLabel);
        const after = store.t.length ? Math.round(store.t[store.t.length - 1] * 1000) : 0;
        const g = await api('GET', '/api/aggregates?after=' + after);
        (g.points || []).forEach(onAgg);
        onWorld(await api('GET', '/api/world'));
    } catch (e) {
        // the stream's reconnect loop reports the connection state
    }
}

// A listener without the stream: poll the world and the labels instead.
function poll() {
    setInterval(async () => {
        try {
            onWorld(await api('GET', '/api/world'));
            (await api('GET', '/api/labels?after=' + lastLabel)).labels.forEach(onLabel);
        } catch (e) {
            setConn('reconnecting');
        }
    }, 1000);
}

function onEvent(name, data) {
    if (name === 'world')
        onWorld(data);
    else if (name === 'agg')
        onAgg(data);
    else if (name === 'label')
        onLabel(data);
}

async function start() {
    let graph, world;
    for (;;) {
        try {
            [graph, world] = await Promise.all([api('GET', '/console/graph.json'), api('GET', '/api/world')]);
            break;
        } catch (e) {
            setConn('reconnecting');
            toast(e.message, true);
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
    for (const h of graph.hosts)
        hostInfo.set(h.name, h);
    view.build(graph);
    onWorld(world);
    document.body.dataset.ready = '1';
    await catchUp();
    follow(onEvent, (s) => {
        setConn(s);
        if (s === 'unavailable')
            poll();
    }, catchUp);
}

let saved = localStorage.getItem(THEME_KEY);
applyTheme(saved);
readTheme();
$('#theme').addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme
        ? document.documentElement.dataset.theme === 'dark'
        : matchMedia('(prefers-color-scheme: dark)').matches;
    saved = dark ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, saved);
    applyTheme(saved);
    charts.rebuild();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (!saved) {
        applyTheme(null);
        charts.rebuild();
    }
});

// For tests and benchmarks (tests/node/console_check.js).
window.diorama = { store, charts, periods, select };
start();
