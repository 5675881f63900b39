/**
 * The package as a user installs it: what `npm pack` ships, with only the production dependencies
 * of the lockfile (what `npm install --omit=dev` leaves), runs every command that loads a library
 * at run time, `stress` (fast-check) included. Offline: the tarball is packed from this checkout
 * and the production packages are linked from its node_modules.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = process.cwd();

describe('production-only install', function () {
  this.timeout(180_000);
  let pkg = '';
  let env: NodeJS.ProcessEnv = {};

  before(() => {
    const tmp = mkdtempSync(join(tmpdir(), 'xennet-package-'));
    // dist/ is already built by the test run: pack it as prepare would have left it.
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(pack.status, pack.stderr).to.equal(0);
    const tarball = join(tmp, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
    expect(spawnSync('tar', ['xzf', tarball, '-C', tmp]).status).to.equal(0);
    pkg = join(tmp, 'package');
    // Every package the lockfile does not mark dev-only, linked in; resolution keeps the links'
    // paths (--preserve-symlinks), so a devDependency of this checkout cannot be found through them.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
    for (const [path, e] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/') || path.split('node_modules/').length > 2 || e.dev || e.devOptional) continue;
      if (!existsSync(join(root, path))) continue; // optional packages of other platforms
      mkdirSync(dirname(join(pkg, path)), { recursive: true });
      symlinkSync(join(root, path), join(pkg, path), 'dir');
    }
    env = { ...process.env, NODE_OPTIONS: '--preserve-symlinks' };
  });

  const xennet = (...args: string[]) => spawnSync(process.execPath, [join(pkg, 'bin', 'xennet.js'), ...args], { cwd: pkg, env, encoding: 'utf8', timeout: 120_000 });

  it('ships the compiled CLI and the scenarios, not the tests', () => {
    expect(existsSync(join(pkg, 'dist', 'src', 'cli', 'main.js'))).to.equal(true);
    expect(existsSync(join(pkg, 'scenarios', 'guest-tx.yaml'))).to.equal(true);
    expect(existsSync(join(pkg, 'dist', 'test'))).to.equal(false);
    expect(existsSync(join(pkg, 'node_modules', 'mocha')), 'dev dependencies are not installed').to.equal(false);
  });

  it('stress runs (fast-check is a dependency)', () => {
    expect(existsSync(join(pkg, 'node_modules', 'fast-check'))).to.equal(true);
    const r = xennet('stress', '--runs', '1', '--workers', '1', '--no-replay-check', '--json');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).summary.passed).to.equal(1);
  });

  it('run works from the installed package', () => {
    const r = xennet('run', 'scenarios/linux-tx.yaml', '--duration', '1ms', '--json');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).scenario).to.equal('linux-tx');
  });
});
