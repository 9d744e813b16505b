// The controls: the selected entity's state switch, a trigger per fault (variant, duration,
// start, stop), rate sliders, pause/resume, speed and the chaos scheduler. Every change is one
// API call (docs/control-api.md); the page then waits for the world to say it happened (the
// stream's world event) rather than assuming it did.
import { api } from './api.js';
import { stateClass } from './world.js';

function el(tag, attrs = {}, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs))
        if (k === 'class')
            e.className = v;
        else if (k.startsWith('data-'))
            e.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
        else
            e[k] = v;
    if (text !== undefined)
        e.textContent = text;
    return e;
}

export class Controls {
    // toast(msg, isError) reports the outcome of a change.
    constructor(root, toast) {
        this.root = root;
        this.toast = toast;
        this.world = null;
        this.selected = '';
        this.q = (s) => root.querySelector(s);
        this.q('#pause').addEventListener('click', () => this.pause());
        this.q('#speed').addEventListener('change', (e) => this.change('PUT', '/api/speed',
            { speed: Number(e.target.value) }, 'speed x' + e.target.value));
        this.q('#chaos').addEventListener('click', () => this.chaos());
        this.q('#faults').addEventListener('click', (e) => this.faultClick(e));
        this.q('#inspector').addEventListener('click', (e) => {
            const b = e.target.closest('button[data-state]');
            if (b)
                this.setState(b.dataset.state);
        });
    }

    async change(method, path, body, what) {
        try {
            await api(method, path, body);
            this.toast(what + ': accepted, applies at the next tick', false);
            return true;
        } catch (e) {
            this.toast(what + ': ' + e.message, true);
            return false;
        }
    }

    setWorld(w) {
        const first = !this.world;
        this.world = w;
        this.renderHeader(w);
        if (first || this.faultKey !== (w.faults || []).map((f) => f.name).join())
            this.renderFaults(w);
        this.updateFaults(w);
        if (first || this.rateKey !== (w.rates || []).map((r) => r.name).join())
            this.renderRates(w);
        this.updateRates(w);
        this.renderInspector();
    }

    // ---- header: pause, speed, chaos --------------------------------------------------------
    renderHeader(w) {
        const pause = this.q('#pause');
        pause.disabled = w.paused === undefined;
        pause.textContent = w.paused ? 'Resume traffic' : 'Pause traffic';
        pause.setAttribute('aria-pressed', String(!!w.paused));
        const speed = this.q('#speed');
        speed.disabled = !(w.speed > 0);
        if (w.speed > 0 && ![...speed.options].some((o) => Number(o.value) === w.speed))
            speed.append(el('option', { value: String(w.speed) }, 'x' + w.speed));
        if (w.speed > 0)
            speed.value = String(w.speed);
        const chaos = this.q('#chaos');
        chaos.disabled = !w.chaos;
        const on = !!(w.chaos && w.chaos.enabled);
        chaos.textContent = on ? 'Chaos: on' : 'Chaos: off';
        chaos.setAttribute('aria-pressed', String(on));
        const spec = this.q('#chaos-spec');
        if (w.chaos && w.chaos.spec && w.chaos.spec !== 'off' && document.activeElement !== spec)
            spec.value = w.chaos.spec;
    }

    pause() {
        const w = this.world;
        this.change('POST', w.paused ? '/api/resume' : '/api/pause', {}, w.paused ? 'resume' : 'pause');
    }

    chaos() {
        const on = !(this.world.chaos && this.world.chaos.enabled);
        const body = { enabled: on };
        const spec = this.q('#chaos-spec').value.trim();
        if (on && spec)
            body.spec = spec;
        this.change('PUT', '/api/chaos', body, 'chaos ' + (on ? 'on' : 'off'));
    }

    // ---- the selected entity's state --------------------------------------------------------
    select(name) {
        this.selected = name;
        this.renderInspector();
    }

    renderInspector() {
        const w = this.world, box = this.q('#inspector');
        const en = w && w.entities.find((e) => e.name === this.selected);
        const title = this.q('#sel-name'), info = this.q('#sel-info'), buttons = this.q('#state-buttons');
        if (!en) {
            title.textContent = 'Select a host, service or model';
            info.textContent = 'Click it in the call graph or the host grid.';
            buttons.replaceChildren();
            box.dataset.entity = '';
            return;
        }
        box.dataset.entity = en.name;
        title.textContent = en.name;
        info.replaceChildren(el('span', { class: 'kind' }, en.kind + ' '),
            el('span', { class: 'state-badge ' + stateClass(en.state) }, en.state),
            el('span', { class: 'since' }, en.since ? ' since ' + en.since.slice(11, 19) + ' (' + en.source + ')' : ''));
        if (buttons.dataset.for !== en.name + '|' + w.states.join()) {
            buttons.dataset.for = en.name + '|' + w.states.join();
            buttons.replaceChildren(...w.states.map((s) => el('button',
                { class: 'state-btn ' + stateClass(s), 'data-state': s, type: 'button' }, s)));
        }
        for (const b of buttons.children)
            b.setAttribute('aria-pressed', String(b.dataset.state === en.state));
    }

    setState(state) {
        const over = this.q('#over').value;
        const body = { state };
        if (over)
            body.over = over;
        this.change('PUT', '/api/entities/' + encodeURIComponent(this.selected) + '/state', body,
            this.selected + ' ' + state);
    }

    // ---- faults ------------------------------------------------------------------------------
    renderFaults(w) {
        const box = this.q('#faults');
        this.faultKey = (w.faults || []).map((f) => f.name).join();
        if (!w.faults) {
            box.replaceChildren(el('p', { class: 'muted' }, 'This diorama does not offer live faults.'));
            return;
        }
        if (!w.faults.length) {
            box.replaceChildren(el('p', { class: 'muted' }, 'The scenario has no faults.'));
            return;
        }
        box.replaceChildren(...w.faults.map((f) => {
            const row = el('div', { class: 'fault', 'data-fault': f.name });
            row.append(el('span', { class: 'fault-name' }, f.name),
                el('span', { class: 'fault-what muted' }, f.kind + ' on ' + f.target));
            // a variant to choose only when there is more than one
            const variant = el('select', { class: 'variant', title: 'variant' });
            for (const v of f.variants || [])
                variant.append(el('option', { value: v }, v));
            variant.hidden = !(f.variants && f.variants.length > 1);
            const dur = el('select', { class: 'duration', title: 'for how long' });
            for (const d of ['30s', '1m', '2m', '5m', '10m'])
                dur.append(el('option', { value: d }, d));
            dur.value = '2m';
            row.append(variant, dur, el('button', { class: 'start', type: 'button' }, 'Start'),
                el('button', { class: 'stop', type: 'button' }, 'Stop'), el('span', { class: 'active' }));
            return row;
        }));
    }

    updateFaults(w) {
        for (const f of w.faults || []) {
            const row = this.q(`.fault[data-fault="${CSS.escape(f.name)}"]`);
            if (!row)
                continue;
            row.classList.toggle('on', !!f.active);
            row.querySelector('.active').textContent = f.active ? 'active' + (f.variant ? ' (' + f.variant + ')' : '') : '';
            row.querySelector('.stop').disabled = !f.active;
        }
    }

    faultClick(e) {
        const b = e.target.closest('button');
        const row = b && b.closest('.fault');
        if (!row)
            return;
        const name = row.dataset.fault, path = '/api/faults/' + encodeURIComponent(name);
        if (b.classList.contains('stop'))
            return this.change('POST', path + '/stop', {}, name + ' stop');
        const body = { for: row.querySelector('.duration').value };
        const v = row.querySelector('.variant');
        if (!v.hidden && v.value)
            body.variant = v.value;
        return this.change('POST', path + '/start', body, name + ' start');
    }

    // ---- rates -------------------------------------------------------------------------------
    renderRates(w) {
        const box = this.q('#rates');
        this.rateKey = (w.rates || []).map((r) => r.name).join();
        if (!w.rates) {
            box.replaceChildren(el('p', { class: 'muted' }, 'This diorama does not offer live rates.'));
            return;
        }
        const rows = [{ name: '', label: 'all traffic' }, ...w.rates.map((r) => ({ name: r.name, label: r.name }))];
        box.replaceChildren(...rows.map((r) => {
            const row = el('label', { class: 'rate', 'data-rate': r.name });
            const input = el('input', { type: 'range', min: '0', max: '5', step: '0.1', value: '1' });
            const out = el('output', {}, 'x1');
            input.addEventListener('input', () => { out.textContent = 'x' + input.value; });
            input.addEventListener('change', () => {
                const body = { factor: Number(input.value) };
                if (r.name)
                    body.target = r.name;
                this.change('PUT', '/api/rate', body, (r.name || 'all traffic') + ' x' + input.value);
            });
            row.append(el('span', { class: 'rate-name' }, r.label), input, out);
            return row;
        }));
    }

    updateRates(w) {
        for (const r of w.rates || []) {
            const row = this.q(`.rate[data-rate="${CSS.escape(r.name)}"]`);
            const input = row && row.querySelector('input');
            if (!input || document.activeElement === input)
                continue;
            input.value = String(r.factor);
            row.querySelector('output').textContent = 'x' + r.factor + (r.base ? ' (' + +(r.base * r.factor).toPrecision(3) + '/s)' : '');
        }
    }
}
