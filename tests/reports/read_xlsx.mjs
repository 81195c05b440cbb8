// Reads an XLSX workbook with an independent reader (read-excel-file, pinned
// in tests/package-lock.json) and prints each sheet's rows as JSON: the e2e
// tests (tests/e2e/test_payout_reports.py) compare them with the API.
// Usage: node reports/read_xlsx.mjs FILE.xlsx
import readXlsxFile, { readSheetNames } from "read-excel-file/node";

const file = process.argv[2];
if (!file) {
  console.error("usage: node reports/read_xlsx.mjs FILE.xlsx");
  process.exit(2);
}
try {
  const out = {};
  for (const name of await readSheetNames(file)) out[name] = await readXlsxFile(file, { sheet: name });
  process.stdout.write(JSON.stringify(out) + "\n");
} catch (e) {
  console.error(`read_xlsx: ${file}: ${e.message}`);
  process.exit(1);
}
