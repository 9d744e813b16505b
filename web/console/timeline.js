// Labels (docs/labels.md) as the console shows them: the periods the charts shade (state
// periods by their id, fault labels merged when they follow each other within MERGE_S of the
// same fault on the same target, so a per-request fault firing every second is one band) and
// the label list under the charts, newest first: one row per change (a period's end line
// completes the row of its begin line), per-request faults counted in one row per fault.
import { stateClass } from './world.js';

const MERGE_S = 2;
const MAX_PERIODS = 300;
const MAX_ROWS = 100;
const MAX_GROUPS = 50; // per-request faults counted (a scenario has that many at most)

const secs = (ns) => (typeof ns === 'number' ? ns / 1e9 : null);

export class Periods {
    constructor() {
        this.map = new Map();
        this.lastFault = new Map(); // fault:target -> key of its latest period
        this.seq = 0;
    }

    add(label) {
        const start = secs(label.start_unix_nano), end = secs(label.end_unix_nano);
        // a per-request fault (every N, probability) covers one request: it is in the label
        // list, but dozens a second would paint every chart solid
        if (start == null || isRequestScope(label))
            return;
        if (label.kind === 'state' || label.phase) { // begin/end pairs share label.id
            const key = 'p' + label.id + ':' + label.target;
            const shade = label.kind === 'state' ? stateClass(label.state).slice(3) : 'fault';
            if (shade === 'healthy')
                return;
            const text = label.target + ' ' + (label.kind === 'state' ? label.state : label.fault || label.kind);
            this.set(key, { target: label.target, text, shade, start, end });
            return;
        }
        const fk = (label.fault || label.kind) + '\u0000' + label.target;
        const prev = this.map.get(this.lastFault.get(fk));
        if (prev && prev.end != null && start - prev.end <= MERGE_S) {
            prev.end = Math.max(prev.end, end ?? start);
            return;
        }
        const key = 'f' + ++this.seq;
        this.lastFault.set(fk, key);
        this.set(key, { target: label.target, text: label.target + ' ' + (label.fault || label.kind),
            shade: 'fault', start, end: end ?? start });
    }

    set(key, p) {
        const old = this.map.get(key);
        if (old) { // the end line of an open period
            old.end = p.end;
            return;
        }
        this.map.set(key, p);
        if (this.map.size > MAX_PERIODS) // the oldest closed one goes
            for (const [k, v] of this.map)
                if (v.end != null) {
                    this.map.delete(k);
                    break;
                }
    }

    all() {
        return this.map.values();
    }

    forTargets(names) {
        const set = new Set(names);
        return [...this.map.values()].filter((p) => set.has(p.target) ||
            [...set].some((n) => p.target.startsWith(n + '/')));
    }
}

function fmtTime(ns) {
    if (typeof ns !== 'number')
        return '';
    return new Date(ns / 1e6).toISOString().slice(11, 19);
}

export function fmtDuration(s) {
    if (s < 60)
        return (s < 10 ? +s.toFixed(1) : Math.round(s)) + ' s';
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    return m < 60 ? m + ' min' + (r ? ' ' + r + ' s' : '') : +(s / 3600).toFixed(1) + ' h';
}

// A per-request fault (every N, probability): one request each, dozens a second.
export function isRequestScope(l) {
    return l.scope === 'request' || l.source === 'every' || l.source === 'probability';
}

function what(l) {
    if (l.kind === 'state')
        return (l.from || 'healthy') + ' \u2192 ' + l.state;
    const v = l.variant ? ' (' + l.variant + ')' : '';
    return (l.fault || l.kind) + v + (l.fault && l.kind ? ': ' + l.kind : '');
}

function row(cells, shade) {
    const li = document.createElement('li');
    for (const [cls, text] of cells) {
        const span = document.createElement('span');
        span.className = cls;
        span.textContent = text;
        li.append(span);
    }
    if (shade)
        li.querySelector('.what').classList.add(shade);
    return li;
}

// The label list. Labels are applied in batches, once per animation frame, and only the newest
// MAX_ROWS rows are kept: a flood cannot grow the page.
// - A period (a state, or a fault's incident) is one row: its begin line adds it ("healthy →
//   degrading", "ongoing"), its end line completes it (how long it lasted) rather than adding
//   a row that repeats the next begin line. The end of a period that nothing follows (back to
//   healthy, which starts no period, docs/labels.md) is a row of its own, "critical →
//   healthy", unless a begin line of the same instant turns up (before or after it).
// - Per-request faults are counted, one row per fault and target in their own list: how many
//   in all and in the last simulated second, so incidents stay readable in the main list.
export class LabelList {
    constructor(ul, counter, blips) {
        this.ul = ul;
        this.counter = counter;
        this.blips = blips;
        this.queue = [];
        this.total = 0;
        this.scheduled = false;
        this.rows = new Map(); // period key -> its row
        this.begins = new Set(); // target@ns where a period began
        this.backs = new Map(); // target@ns -> the "→ healthy" row of an end line
        this.groups = new Map(); // fault\0target -> per-request counts and row
        this.changed = new Set();
    }

    add(id, l) {
        this.queue.push([id, l]);
        this.total++;
        if (!this.scheduled) {
            this.scheduled = true;
            requestAnimationFrame(() => this.flush());
        }
    }

    flush() {
        this.scheduled = false;
        const fresh = [];
        for (const [id, l] of this.queue.splice(0)) {
            if (isRequestScope(l)) {
                this.count(l);
                continue;
            }
            const li = l.phase === 'end' ? this.end(l) : this.begin(l);
            if (li) {
                li.dataset.id = id;
                li.dataset.target = l.target;
                fresh.push(li);
            }
        }
        this.ul.prepend(...fresh.filter((li) => !li.dataset.gone).slice(-MAX_ROWS).reverse());
        while (this.ul.children.length > MAX_ROWS)
            this.forget(this.ul.lastElementChild);
        this.showGroups();
        const req = [...this.groups.values()].reduce((n, g) => n + g.n, 0);
        this.counter.textContent = this.total.toLocaleString('en') + (req ? ' (' + req.toLocaleString('en') + ' per request, counted)' : '');
    }

    // A begin line, or an instant label (rate, pause, a fault without phase ...).
    begin(l) {
        const li = row([['time', fmtTime(l.start_unix_nano)], ['target', l.target], ['what', what(l)],
            ['source', l.source || ''], ['phase', l.phase ? 'ongoing' : l.end_unix_nano != null &&
            l.end_unix_nano !== l.start_unix_nano ? fmtDuration((l.end_unix_nano - l.start_unix_nano) / 1e9) : '']],
        l.kind === 'state' ? stateClass(l.state) : '');
        if (!l.phase)
            return li;
        const key = 'p' + l.id + ':' + l.target;
        li.dataset.period = key;
        li.dataset.start = String(l.start_unix_nano);
        this.rows.set(key, li);
        if (l.kind === 'state') {
            const at = l.target + '@' + l.start_unix_nano;
            this.begins.add(at);
            const back = this.backs.get(at);
            if (back) { // its end line came first: this row is the transition
                this.forget(back);
                back.dataset.gone = '1';
            }
            trim(this.begins);
        }
        return li;
    }

    // An end line: completes its period's row; a row of its own only for a state left for healthy.
    end(l) {
        const key = 'p' + l.id + ':' + l.target, li = this.rows.get(key);
        const secs = (l.end_unix_nano - l.start_unix_nano) / 1e9;
        if (li) {
            li.classList.add('ended');
            li.dataset.end = String(l.end_unix_nano);
            li.querySelector('.phase').textContent = Number.isFinite(secs) ? fmtDuration(secs) : 'ended';
            li.querySelector('.time').title = fmtTime(l.start_unix_nano) + ' \u2013 ' + fmtTime(l.end_unix_nano) + ' UTC';
        }
        if (l.kind !== 'state')
            return null;
        const at = l.target + '@' + l.end_unix_nano;
        if (this.begins.has(at)) // the next state's begin row is the transition
            return null;
        const back = row([['time', fmtTime(l.end_unix_nano)], ['target', l.target],
            ['what', l.state + ' \u2192 healthy'], ['source', l.source || ''], ['phase', '']], 'st-healthy');
        this.backs.set(at, back);
        trim(this.backs);
        return back;
    }

    forget(li) {
        if (li.dataset.period && this.rows.get(li.dataset.period) === li)
            this.rows.delete(li.dataset.period);
        li.remove();
    }

    // Per-request labels: counted per fault and target, per simulated second.
    count(l) {
        const k = (l.fault || l.kind) + '\u0000' + l.target;
        let g = this.groups.get(k);
        if (!g) {
            if (this.groups.size >= MAX_GROUPS)
                return;
            g = { l, n: 0, sec: 0, inSec: 0, lastSec: 0, li: null };
            this.groups.set(k, g);
        }
        const sec = Math.floor((l.start_unix_nano || 0) / 1e9);
        if (sec !== g.sec) { // a new second: the one before is complete
            g.lastSec = sec === g.sec + 1 ? g.inSec : 0;
            g.sec = sec;
            g.inSec = 0;
        }
        g.n++;
        g.inSec++;
        g.l = l;
        this.changed.add(g);
    }

    // A stream's request_labels event (?labels=incident): exact counts per fault and target
    // since the previous one, instead of one label event per request.
    counted(ev) {
        const now = performance.now();
        for (const f of ev.faults || []) {
            const k = f.fault + '\u0000' + f.target;
            let g = this.groups.get(k);
            if (!g) {
                if (this.groups.size >= MAX_GROUPS)
                    continue;
                g = { l: { fault: f.fault, target: f.target }, n: 0, sec: 0, inSec: 0, lastSec: 0, li: null };
                this.groups.set(k, g);
            }
            const secs = g.at ? (now - g.at) / 1000 : 1;
            g.at = now;
            g.n += f.n;
            g.inSec = 0;
            g.lastSec = Math.round(f.n / Math.max(secs, 1));
            this.changed.add(g);
        }
        this.total += ev.n || 0;
        if (!this.scheduled) {
            this.scheduled = true;
            requestAnimationFrame(() => this.flush());
        }
    }

    showGroups() {
        for (const g of this.changed) {
            if (!g.li) {
                g.li = row([['time', ''], ['target', g.l.target], ['what', what(g.l)], ['source', g.l.source || ''],
                    ['phase count', '']], '');
                g.li.dataset.fault = g.l.fault || g.l.kind;
                g.li.dataset.target = g.l.target;
                this.blips.append(g.li);
                this.blips.hidden = false;
            }
            g.li.querySelector('.time').textContent = g.l.start_unix_nano ? fmtTime(g.l.start_unix_nano) : '';
            const c = g.li.querySelector('.count');
            c.textContent = '\u00d7' + g.n.toLocaleString('en') + ' \u00b7 ' + (g.lastSec || g.inSec) + '/s';
            c.title = g.n + ' requests affected in all; ' + g.lastSec + ' in the last whole second, ' +
                g.inSec + ' so far in ' + fmtTime(g.sec * 1e9);
            g.li.dataset.count = String(g.n);
        }
        this.changed.clear();
    }
}

function trim(m) {
    if (m.size > MAX_ROWS)
        m.delete(m.keys().next().value);
}
