/* diorama load HTML report: draws the two charts from the JSON embedded in the page
 * (the element with id load-data, schema docs/load-json.md) with the embedded uPlot. The
 * summary tables are rendered by the C side, so the numbers read without JavaScript too.
 * This file is inlined into a script element: keep tag-like text out of it. */
(function () {
    'use strict';
    var data = JSON.parse(document.getElementById('load-data').textContent);
    var colors = { p50: '#2b8a3e', p90: '#1971c2', p99: '#e8590c', max: '#c92a2a' };

    function ms(us) {
        return us === null || us === undefined ? null : us / 1000;
    }

    function chartWidth(el) {
        return Math.max(320, Math.min(1100, el.clientWidth || 900));
    }

    function noData(el, what) {
        el.className += ' empty';
        el.textContent = 'No ' + what + ' to chart.';
    }

    /* A y axis in ms; the max line gets its own scale on the right so that a single slow
     * request does not flatten the percentiles. */
    function msAxis(scale, label, side) {
        return {
            scale: scale || 'y',
            label: label || 'latency (ms)',
            side: side === 1 ? 1 : 3,
            grid: { show: side !== 1 },
            size: 70,
            values: function (u, splits) {
                return splits.map(function (v) { return v === null ? '' : +v.toPrecision(4) + ''; });
            }
        };
    }

    function line(label, color, scale, dash) {
        var s = { label: label, stroke: color, width: 1.5, spanGaps: false, scale: scale || 'y',
            value: function (u, v) { return v === null ? '-' : v.toFixed(2) + ' ms'; } };
        if (dash)
            s.dash = dash;
        return s;
    }

    function timeChart() {
        var el = document.getElementById('chart-time');
        var tl = data.timeline || [];
        if (tl.length < 2)
            return noData(el, 'timeline');
        var cols = [tl.map(function (s) { return s.t_s; })];
        ['p50_us', 'p90_us', 'p99_us', 'max_us'].forEach(function (k) {
            cols.push(tl.map(function (s) { return ms(s[k]); }));
        });
        return new uPlot({
            title: 'Latency over time (per second, from the intended send time)',
            width: chartWidth(el), height: 320,
            scales: { x: { time: false }, ms: {}, max: {} },
            axes: [{ label: 'seconds since start' }, msAxis('ms', 'p50 / p90 / p99 (ms)'),
                msAxis('max', 'max (ms, dashed)', 1)],
            series: [{ label: 't (s)' }, line('p50', colors.p50, 'ms'), line('p90', colors.p90, 'ms'),
                line('p99', colors.p99, 'ms'), line('max', colors.max, 'max', [6, 4])]
        }, cols, el);
    }

    /* x = log10(1/(1-p)): 0 -> "0%", 1 -> "90%", 2 -> "99%", 3 -> "99.9%" (HdrHistogram's
     * percentile plots). Plotted on a linear scale with integer splits, so labels stay exact. */
    function pctLabel(x) {
        return +(100 * (1 - Math.pow(10, -x))).toPrecision(6) + '%';
    }

    function distChart() {
        var el = document.getElementById('chart-dist');
        var pts = (data.latency_distribution || []).filter(function (d) { return d[0] < 100; });
        if (pts.length < 2)
            return noData(el, 'latency distribution');
        var x = pts.map(function (d) { return -Math.log10(1 - d[0] / 100); });
        var y = pts.map(function (d) { return ms(d[1]); });
        var top = Math.ceil(x[x.length - 1]);
        return new uPlot({
            title: 'Latency by percentile',
            width: chartWidth(el), height: 320,
            scales: { x: { time: false, range: [0, Math.max(1, top)] } },
            axes: [{
                label: 'percentile',
                splits: function () {
                    var s = [];
                    for (var i = 0; i <= Math.max(1, top); i++)
                        s.push(i);
                    return s;
                },
                values: function (u, splits) { return splits.map(pctLabel); }
            }, msAxis()],
            series: [{
                label: 'percentile',
                value: function (u, v) { return v === null ? '-' : pctLabel(v); }
            }, line('latency', colors.p99)]
        }, [x, y], el);
    }

    var charts = [timeChart(), distChart()];
    window.addEventListener('resize', function () {
        charts.forEach(function (c) {
            if (c)
                c.setSize({ width: chartWidth(c.root.parentNode), height: 320 });
        });
    });
    document.body.setAttribute('data-charts', String(charts.filter(Boolean).length));
})();
