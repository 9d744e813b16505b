// Labels (docs/labels.md) as the console shows them: the periods the charts shade (state
// periods by their id, fault labels merged when they follow each other within MERGE_S of the
// same fault on the same target, so a per-request fault firing every second is one band) and
// the label list under the charts, newest first.
import { stateClass } from './world.js';

const MERGE_S = 2;
const MAX_PERIODS = 300;
const MAX_ROWS = 100;

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
        if (start == null || label.scope === 'request' || label.source === 'every' ||
            label.source === 'probability')
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

function describe(l, next) {
    if (l.kind === 'state') {
        if (l.phase === 'end') // the period's end: into the next state, or back to healthy
            return l.state + ' \u2192 ' + (next || 'healthy');
        return (l.from ? l.from + ' \u2192 ' : '') + l.state;
    }
    const v = l.variant ? ' (' + l.variant + ')' : '';
    return (l.fault || l.kind) + v + (l.fault && l.kind ? ': ' + l.kind : '');
}

// The label list. Rows are added in batches, once per animation frame, and only the newest
// MAX_ROWS are kept: a flood of per-request labels cannot grow the page. A state period's end
// line says where the entity went: the state whose begin line starts at that instant (it may
// come before or after the end line), else healthy, which starts no period (docs/labels.md).
export class LabelList {
    constructor(ul, counter) {
        this.ul = ul;
        this.counter = counter;
        this.queue = [];
        this.total = 0;
        this.scheduled = false;
        this.begins = new Map(); // target@start_ns -> state begun then
        this.ends = new Map(); // target@end_ns -> [row's .what, the ended label]
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
        const frag = document.createDocumentFragment();
        for (const [id, l] of this.queue.splice(0).slice(-MAX_ROWS).reverse()) {
            const li = document.createElement('li');
            li.dataset.id = id;
            li.dataset.target = l.target;
            const shade = l.kind === 'state' ? stateClass(l.state) : 'fault';
            const end = l.kind === 'state' && l.phase === 'end';
            const at = l.target + '@' + (end ? l.end_unix_nano : l.start_unix_nano);
            const cells = [['time', fmtTime(end ? l.end_unix_nano : l.start_unix_nano)], ['target', l.target],
                ['what ' + shade, describe(l, this.begins.get(at))], ['source', l.source || ''],
                ['phase', l.phase || (l.end_unix_nano != null ? 'ended' : '')]];
            for (const [cls, text] of cells) {
                const span = document.createElement('span');
                span.className = cls;
                span.textContent = text;
                li.append(span);
            }
            this.link(l, at, li.querySelector('.what'));
            frag.append(li);
        }
        this.ul.prepend(frag);
        while (this.ul.children.length > MAX_ROWS)
            this.ul.lastElementChild.remove();
        this.counter.textContent = String(this.total);
    }

    // Matches state end lines with the begin line of the same instant (kept for the rows shown).
    link(l, at, what) {
        if (l.kind !== 'state')
            return;
        if (l.phase === 'end') {
            this.ends.set(at, [what, l]);
        } else {
            this.begins.set(at, l.state);
            const e = this.ends.get(at);
            if (e)
                e[0].textContent = describe(e[1], l.state);
        }
        for (const m of [this.begins, this.ends])
            if (m.size > MAX_ROWS)
                m.delete(m.keys().next().value);
    }
}
