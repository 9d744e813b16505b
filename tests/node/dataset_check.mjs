// Reads diorama's --dataset Parquet file with hyparquet (an independent reader, npm) and
// compares it with the CSV written next to it: same rows, same columns, the types the schema
// promises (timestamp -> Date, metrics -> number or null, labels -> string), and equal values
// in every row. Prints a JSON summary for the shell test to check further.
// usage: node dataset_check.mjs DIR [TABLE]   (TABLE: metrics (default) or business)
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';

const dir = process.argv[2];
const table = process.argv[3] ?? 'metrics';
const buf = readFileSync(`${dir}/${table}.parquet`);
const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
const meta = parquetMetadata(file);
const rows = await parquetReadObjects({ file });

// RFC 4180 CSV (quoted fields may hold commas, quotes and newlines)
function parseCsv(text) {
  const out = []; let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; }
      else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; }
    else if (c === '\n') { row.push(f); out.push(row); row = []; f = ''; }
    else f += c;
  }
  return out;
}
const csv = parseCsv(readFileSync(`${dir}/${table}.csv`, 'utf8'));
const head = csv.shift();
const errors = [];
const pqCols = parquetSchema(meta).children.map((c) => c.element.name);
const want = head.filter((h) => h !== 'time');
if (JSON.stringify(pqCols) !== JSON.stringify(want)) errors.push(`columns ${pqCols} vs ${want}`);
if (rows.length !== csv.length) errors.push(`rows: parquet ${rows.length}, csv ${csv.length}`);
const strCols = table === 'business' ? ['metric', 'type', 'unit', 'attr_key', 'attr_value']
  : ['entity', 'kind', 'profile', 'state', 'faults'];
const firstNum = table === 'business' ? 'value' : 'state_progress';
for (let i = 0; i < Math.min(rows.length, csv.length); i++) {
  const p = rows[i], c = Object.fromEntries(head.map((h, k) => [h, csv[i][k]]));
  if (!(p.timestamp instanceof Date) || p.timestamp.getTime() !== Number(c.timestamp) ||
      p.timestamp.toISOString() !== c.time)
    errors.push(`row ${i}: timestamp ${p.timestamp} vs ${c.timestamp} ${c.time}`);
  for (const s of strCols) if (typeof p[s] !== 'string' || p[s] !== c[s]) errors.push(`row ${i}: ${s}`);
  for (const h of head.slice(head.indexOf(firstNum))) {
    if (strCols.includes(h)) continue;
    const v = p[h], t = c[h];
    if (t === '' ? v !== null : typeof v !== 'number' || v !== Number(t))
      errors.push(`row ${i}: ${h} parquet ${v} csv '${t}'`);
  }
  if (errors.length > 20) break;
}
const types = Object.fromEntries(meta.schema.slice(1).map((s) => [s.name, s.type]));
console.log(JSON.stringify({
  rows: rows.length, row_groups: meta.row_groups.length, columns: pqCols, types, errors,
  codecs: [...new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data.codec)))],
  sample: rows.find((r) => (r.kind === 'service' && r.request_rate !== null) || r.type === 'histogram') ?? null,
}, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
