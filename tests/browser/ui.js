// Drives headless Debian chromium (playwright-core) through a running `mlo ui`.
// Usage: node ui.js BASE_URL OUT_DIR EXPECT_JSON
//   EXPECT_JSON: {"runs":[ids], "run_a","run_b", "model":"NAME@VERSION", "total_runs":N}
// Checks: every page loads with no console error, no failed or outside
// request; the runs table filters and sorts; comparing two runs draws both
// curves; the lineage graph has the expected nodes and its run node links to
// the run; a hostile param name is text. Screenshots go to OUT_DIR.
// Prints one line per check; exits 1 on the first failure.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'tools', 'node_modules', 'playwright-core'));

const [base, outDir, expectJson] = process.argv.slice(2);
const expect = JSON.parse(expectJson);
const origin = new URL(base).origin;
let checks = 0;

function check(ok, what) {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
  checks++;
  console.log(`ok: ${what}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => { if (!r.url().startsWith(origin)) problems.push(`outside request: ${r.url()}`); });

  async function visit(rel, shot) {
    const res = await page.goto(new URL(rel, base).href);
    check(res && res.status() === 200, `${rel} answers 200 (got ${res && res.status()})`);
    check(problems.length === 0, `${rel} loads with no console errors or outside requests ${problems.join('; ')}`);
    if (shot) await page.screenshot({ path: path.join(outDir, shot), fullPage: true });
  }
  const rowIds = () => page.$$eval('table.runs input[name=run]', (els) => els.map((e) => e.value));

  // Runs table: every run, the hostile name as text.
  await visit('/', 'runs.png');
  let ids = await rowIds();
  check(ids.length === expect.total_runs, `runs table lists ${expect.total_runs} runs (got ${ids.length})`);
  const xss = await page.evaluate(() => ({ flag: window.__xss, imgs: document.querySelectorAll('img').length,
                                           text: document.body.innerText }));
  check(xss.flag === undefined && xss.imgs === 0, 'the hostile param name ran nothing and made no element');
  check(xss.text.includes('<img src=x onerror="window.__xss=1">'), 'the hostile param name is shown as text');

  // Filter with the --where language.
  await page.fill('#filter input[name=where]', 'metrics.acc>0.96');
  await Promise.all([page.waitForNavigation(), page.click('#filter button')]);
  ids = await rowIds();
  check(ids.length === 1 && ids[0] === expect.run_b, `filter metrics.acc>0.96 leaves run B only (got ${ids})`);
  check(problems.length === 0, `filtered page has no console errors ${problems.join('; ')}`);
  await page.screenshot({ path: path.join(outDir, 'runs-filtered.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('code.filter + a')]);
  check((await rowIds()).length === expect.total_runs, 'removing the filter shows every run again');

  // Sort by acc: descending, then ascending.
  const accColumn = async () => {
    const idx = await page.$$eval('table.runs thead th', (ths) => ths.findIndex((th) => th.querySelector("a[data-field='metrics.acc']")));
    return page.$$eval(`table.runs tbody tr td:nth-child(${idx + 1})`, (tds) => tds.map((td) => parseFloat(td.textContent)));
  };
  await Promise.all([page.waitForNavigation(), page.click("a[data-field='metrics.acc']")]);
  let acc = await accColumn();
  check(acc.length === expect.total_runs && acc.every((v, i) => i === 0 || acc[i - 1] >= v), `sorted by acc descending: ${acc}`);
  await Promise.all([page.waitForNavigation(), page.click("a[data-field='metrics.acc']")]);
  acc = await accColumn();
  check(acc.every((v, i) => i === 0 || acc[i - 1] <= v), `sorted by acc ascending: ${acc}`);

  // Select two runs and compare: one chart, both curves.
  await page.check(`input[name=run][value='${expect.run_a}']`);
  await page.check(`input[name=run][value='${expect.run_b}']`);
  await Promise.all([page.waitForNavigation(), page.click('#compare button')]);
  check(page.url().includes('/compare?'), 'Compare selected opens the comparison');
  check(problems.length === 0, `comparison has no console errors ${problems.join('; ')}`);
  const curves = await page.$$eval('svg g.series', (gs) => gs.map((g) => ({ name: g.dataset.name,
    points: g.querySelectorAll('circle').length, line: !!g.querySelector('polyline') })));
  check(curves.length === 2, `the loss chart has two curves (got ${curves.length})`);
  for (const id of [expect.run_a, expect.run_b]) {
    const c = curves.find((x) => x.name === `${id} train`);
    check(c && c.line && c.points === 8, `run ${id}'s curve is drawn with its 8 points`);
  }
  const hover = await page.$$eval('svg g.series circle title', (ts) => ts.map((t) => t.textContent));
  check(hover.includes(`${expect.run_a} train: step 2, loss 0.25`), 'hovering a point names its run and value');
  await page.screenshot({ path: path.join(outDir, 'compare.png'), fullPage: true });

  // Experiments (mlo exp show): one row each, sorted by a metric on a click,
  // two ticked rows compared like runs.
  await visit('/experiments', 'experiments.png');
  const expAcc = async () => {
    const idx = await page.$$eval('table.experiments thead th', (ths) => ths.findIndex((th) => th.querySelector("a[data-field='metrics.acc']")));
    return page.$$eval(`table.experiments tbody tr td:nth-child(${idx + 1})`, (tds) => tds.map((td) => parseFloat(td.textContent)));
  };
  check((await page.$$('table.experiments tbody tr')).length === expect.total_runs,
    `the experiments table has ${expect.total_runs} rows`);
  await Promise.all([page.waitForNavigation(), page.click("table.experiments a[data-field='metrics.acc']")]);
  acc = await expAcc();
  check(acc.length === expect.total_runs && acc.every((v, i) => i === 0 || acc[i - 1] >= v), `experiments sorted by acc descending: ${acc}`);
  await page.check(`table.experiments input[name=run][value='${expect.run_a}']`);
  await page.check(`table.experiments input[name=run][value='${expect.run_b}']`);
  await Promise.all([page.waitForNavigation(), page.click('#compare button')]);
  check((await page.$$('svg g.series')).length === 2, 'comparing two experiments draws both curves');
  check(problems.length === 0, `the experiments pages have no console errors ${problems.join('; ')}`);

  // Lineage: data -> run -> version, nodes are links.
  await visit(`/lineage?target=${encodeURIComponent(expect.model)}`, 'lineage.png');
  const nodes = await page.$$eval('svg#lineage a.node', (as) => as.map((a) => ({ kind: a.dataset.kind, id: a.dataset.id,
    href: a.getAttribute('href') })));
  const kinds = new Set(nodes.map((n) => n.kind));
  for (const k of ['data', 'run', 'model_version']) check(kinds.has(k), `lineage has a ${k} node`);
  check(nodes.some((n) => n.kind === 'model_version' && n.id === expect.model), `lineage has ${expect.model}`);
  check(nodes.some((n) => n.kind === 'data' && n.id === 'data/train.csv'), 'lineage has data/train.csv');
  const runNode = nodes.find((n) => n.kind === 'run');
  await Promise.all([page.waitForNavigation(), page.click(`svg#lineage a.node[data-kind='run']`)]);
  check(page.url().endsWith(runNode.href), `clicking the run node opens ${runNode.href}`);
  check(problems.length === 0, `the run page has no console errors ${problems.join('; ')}`);
  await page.screenshot({ path: path.join(outDir, 'run.png'), fullPage: true });

  for (const [rel, shot] of [['/models', 'models.png'], [`/model/${expect.model.split('@')[0]}`, 'model.png'],
                             ['/audit', 'audit.png'], ['/plots', 'plots.png'], ['/deployments', 'deployments.png'],
                             ['/monitors', 'monitors.png']]) {
    await visit(rel, shot);
  }
  const heat = await page.$$eval('svg.heatmap rect title', (ts) => ts.length);
  check(heat > 0, `the monitors page draws the drift heatmap (${heat} cells)`);
  await browser.close();
  console.log(`browser: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
