import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EtlError } from '@p2m/core';
import { tailFile } from './process.ts';

/** Pinned versions; each can be overridden by env for trials. */
export const KAFKA_VERSION = '3.9.1';
export const SLF4J_RELOAD4J_VERSION = '1.7.36';
/** 3.0.x is the newest Apicurio line built for Java 17 (3.3.x needs Java 21). */
export const APICURIO_VERSION = '3.0.9';
export const MILVUS_LITE_VERSION = '3.2.2';
/** PyPI `milvus`: the embedded build of the full standalone server (WAL, coordinators, embedded etcd). 2.3.5 is its newest release. */
export const MILVUS_STANDALONE_VERSION = '2.3.5';

export const kafkaVersion = (): string => process.env.P2M_KAFKA_VERSION || KAFKA_VERSION;
export const apicurioVersion = (): string => process.env.P2M_APICURIO_VERSION || APICURIO_VERSION;
export const milvusLiteVersion = (): string => process.env.P2M_MILVUS_LITE_VERSION || MILVUS_LITE_VERSION;
export const milvusStandaloneVersion = (): string => process.env.P2M_MILVUS_STANDALONE_VERSION || MILVUS_STANDALONE_VERSION;

type Log = (line: string) => void;

export function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const TOOL_HINTS: Record<string, string> = {
  java: 'install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or use docker-compose.yml',
  mvn: 'install Maven (Debian: apt-get install maven), which downloads Kafka and the schema registry from Maven Central',
  python3: 'install Python 3 with venv (Debian: apt-get install python3 python3-venv), which installs Milvus Lite from PyPI',
  tar: 'install tar (Debian: apt-get install tar)',
};

export function requireTool(cmd: string, forWhat: string): string {
  const found = findOnPath(cmd);
  if (!found) throw new EtlError('STACK', `"${cmd}" was not found on PATH; it is needed for ${forWhat}`, { hint: TOOL_HINTS[cmd] ?? `install ${cmd}` });
  return found;
}

/** Major version of the `java` on PATH (8 for "1.8.0_x"). */
export function javaMajorVersion(): number {
  requireTool('java', 'Kafka and the schema registry');
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${out.stderr}${out.stdout}`);
  if (!match) return 0;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

function dirSizeBytes(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      total += entry.isDirectory() ? dirSizeBytes(full) : statSync(full).size;
    }
  } catch {
    // racing with the writer
  }
  return total;
}

const mb = (bytes: number): string => `${(bytes / 1_048_576).toFixed(0)} MB`;

/** Runs a download/install command with its output in `logFile`; a ticker shows it is alive. */
async function runStep(
  label: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; logFile: string; log: Log; watchDir?: string; env?: NodeJS.ProcessEnv },
): Promise<void> {
  const started = Date.now();
  const fd = openSync(opts.logFile, 'a');
  const ticker = setInterval(() => {
    const size = opts.watchDir ? `, ${mb(dirSizeBytes(opts.watchDir))} so far` : '';
    opts.log(`p2m stack:   … ${label} (${Math.round((Date.now() - started) / 1000)} s${size})`);
  }, 10_000);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      throw new EtlError('STACK', `${label} failed (${cmd} exited with ${code}): ${tailFile(opts.logFile, 3).replace(/\s+/g, ' ').slice(-300)}`, {
        hint: `check the network access to the package registry and retry; full output in ${opts.logFile}`,
      });
    }
  } finally {
    clearInterval(ticker);
    closeSync(fd);
  }
}

/**
 * Installs into `<cache>/<name>` atomically: `fill` works in a temp dir that is renamed into place
 * only when complete, so an interrupted download never looks installed. Returns the final dir.
 */
async function installOnce(cacheDir: string, name: string, title: string, log: Log, fill: (tmp: string) => Promise<void>): Promise<string> {
  const final = join(cacheDir, name);
  if (existsSync(final)) return final;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  log(`p2m stack: installing ${title} into ${final} (first start only)`);
  try {
    await fill(tmp);
    try {
      renameSync(tmp, final);
    } catch (err) {
      // Another process finished the same install first: theirs is as good as ours.
      if (!existsSync(final)) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  log(`p2m stack: installed ${title} (${mb(dirSizeBytes(final))}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return final;
}

const pom = (deps: string): string => `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>p2m.local</groupId><artifactId>p2m-stack-download</artifactId><version>1</version>
  <dependencies>${deps}
  </dependencies>
</project>
`;

/** Apache Kafka's broker jars from Maven Central → `<cache>/kafka-<v>/lib`. */
export async function ensureKafka(cacheDir: string, log: Log): Promise<string> {
  const version = kafkaVersion();
  if (Number(version.split('.')[0]) >= 4) {
    throw new EtlError('STACK', `Kafka ${version} is not supported by the local stack`, {
      hint: 'KafkaJS needs protocol versions that Kafka 4 removed: unset P2M_KAFKA_VERSION or use 3.9.x',
    });
  }
  requireTool('java', 'Kafka');
  return installOnce(cacheDir, `kafka-${version}`, `Apache Kafka ${version} from Maven Central (~50 MB)`, log, async (tmp) => {
    const mvn = requireTool('mvn', 'downloading Kafka');
    writeFileSync(
      join(tmp, 'pom.xml'),
      pom(`
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_RELOAD4J_VERSION}</version></dependency>`),
    );
    await runStep(
      `downloading Kafka ${version}`,
      mvn,
      ['-B', '-q', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${join(tmp, 'lib')}`],
      {
        cwd: tmp,
        logFile: join(cacheDir, `install-kafka-${version}.log`),
        log,
        watchDir: join(tmp, 'lib'),
      },
    );
    if (!readdirSync(join(tmp, 'lib')).some((f) => f.startsWith('kafka_2.13-'))) {
      throw new EtlError('STACK', `the Kafka download has no broker jar`, { hint: `see ${join(cacheDir, `install-kafka-${version}.log`)}` });
    }
  });
}

/** Apicurio Registry (Confluent-compatible API) from Maven Central, unpacked. */
export async function ensureRegistry(cacheDir: string, log: Log): Promise<{ dir: string; jar: string }> {
  const version = apicurioVersion();
  const needs = Number(version.split('.')[0]) === 3 && Number(version.split('.')[1]) >= 1 ? 21 : 17;
  const java = javaMajorVersion();
  if (java < needs) {
    throw new EtlError('STACK', `Apicurio Registry ${version} needs Java ${needs}, but "java" is version ${java}`, {
      hint: `install Java ${needs}, or unset P2M_APICURIO_VERSION to use ${APICURIO_VERSION} (runs on Java 17)`,
    });
  }
  const dir = await installOnce(cacheDir, `apicurio-registry-${version}`, `Apicurio Registry ${version} from Maven Central (~110-160 MB)`, log, async (tmp) => {
    const mvn = requireTool('mvn', 'downloading the schema registry');
    const tar = requireTool('tar', 'unpacking the schema registry');
    const logFile = join(cacheDir, `install-apicurio-${version}.log`);
    writeFileSync(join(tmp, 'pom.xml'), pom(''));
    const download = join(tmp, 'download');
    await runStep(
      `downloading Apicurio Registry ${version}`,
      mvn,
      ['-B', '-q', 'dependency:copy', `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`, `-DoutputDirectory=${download}`],
      {
        cwd: tmp,
        logFile,
        log,
        watchDir: download,
      },
    );
    const archive = readdirSync(download).find((f) => f.endsWith('.tar.gz'));
    if (!archive) throw new EtlError('STACK', 'the Apicurio Registry download has no archive', { hint: `see ${logFile}` });
    const app = join(tmp, 'app');
    mkdirSync(app);
    await runStep('unpacking Apicurio Registry', tar, ['-xzf', join(download, archive), '-C', app], { cwd: tmp, logFile, log });
    rmSync(download, { recursive: true, force: true });
    if (!registryJar(app)) throw new EtlError('STACK', 'the Apicurio Registry archive has no runnable jar', { hint: `see ${logFile}` });
  });
  const jar = registryJar(join(dir, 'app'));
  if (!jar) throw new EtlError('STACK', `no runnable jar in ${dir}`, { hint: `delete ${dir} and start again` });
  return { dir, jar };
}

function registryJar(app: string): string | undefined {
  if (existsSync(join(app, 'quarkus-run.jar'))) return join(app, 'quarkus-run.jar');
  const runner = readdirSync(app).find((f) => f.endsWith('-runner.jar'));
  return runner ? join(app, runner) : undefined;
}

export interface MilvusLiteInstall {
  version: string;
  venv: string;
  /** 2.5.x: the C++ server binary inside the wheel and its library dir. */
  binary?: string;
  libDir?: string;
}

export const milvusLiteMajor = (version: string): number => Number(version.split('.')[0]);

/** Milvus Lite from PyPI in a virtualenv of its own under the cache. */
export async function ensureMilvusLite(cacheDir: string, log: Log): Promise<MilvusLiteInstall> {
  const version = milvusLiteVersion();
  const major = milvusLiteMajor(version);
  // 3.x's gRPC server imports pymilvus, which the wheel does not declare.
  const packages = major >= 3 ? [`milvus-lite==${version}`, 'pymilvus>=2.6'] : [`milvus-lite==${version}`];
  const venv = await installOnce(cacheDir, `milvus-lite-${version}`, `Milvus Lite ${version} from PyPI (~60 MB)`, log, async (tmp) => {
    const python = requireTool('python3', 'installing Milvus Lite');
    const logFile = join(cacheDir, `install-milvus-lite-${version}.log`);
    await runStep('creating a Python virtualenv', python, ['-m', 'venv', tmp], { cwd: cacheDir, logFile, log });
    await runStep(
      `downloading Milvus Lite ${version}`,
      join(tmp, 'bin', 'python3'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', ...packages],
      {
        cwd: tmp,
        logFile,
        log,
        watchDir: join(tmp, 'lib'),
      },
    );
  });
  const install: MilvusLiteInstall = { version, venv };
  if (major < 3) {
    const libDir = milvusLibDir(venv);
    if (!libDir) throw new EtlError('STACK', `no Milvus Lite server binary in ${venv}`, { hint: `delete ${venv} and start again` });
    install.libDir = libDir;
    install.binary = join(libDir, 'milvus');
  }
  return install;
}

function milvusLibDir(venv: string): string | undefined {
  const libRoot = join(venv, 'lib');
  if (!existsSync(libRoot)) return undefined;
  for (const py of readdirSync(libRoot)) {
    const dir = join(libRoot, py, 'site-packages', 'milvus_lite', 'lib');
    if (existsSync(join(dir, 'milvus'))) return dir;
  }
  return undefined;
}

export interface MilvusStandaloneInstall {
  version: string;
  /** `milvus` and the shared libraries it loads (LD_LIBRARY_PATH). */
  binDir: string;
  /** The wheel's milvus.yaml template (`{{ key(type): default }}` placeholders). */
  configTemplate: string;
}

/**
 * The wheel keeps the server and its libraries LZMA-compressed and unpacks them into a data dir
 * on every first start; unpacking them once into the cache lets every stack share one copy.
 */
const UNPACK_STANDALONE = `
import lzma, os, shutil, sys
import milvus
src = os.path.join(os.path.dirname(milvus.__file__), 'data')
dst = sys.argv[1]
os.makedirs(os.path.join(dst, 'bin'))
for name in os.listdir(os.path.join(src, 'bin')):
    if not name.endswith('.lzma'):
        continue
    out = os.path.join(dst, 'bin', name[:-5])
    with lzma.open(os.path.join(src, 'bin', name)) as packed, open(out, 'wb') as plain:
        shutil.copyfileobj(packed, plain, 1 << 20)
    os.chmod(out, 0o755)
shutil.copy(os.path.join(src, 'config.yaml.template'), os.path.join(dst, 'milvus.yaml.template'))
`;

/**
 * The Milvus standalone server from PyPI (`milvus`, the embedded standalone build), unpacked into
 * `<cache>/milvus-standalone-<v>/`: `bin/` and the config template. The virtualenv pip needed is
 * removed once the server is unpacked: nothing runs Python afterwards.
 */
export async function ensureMilvusStandalone(cacheDir: string, log: Log): Promise<MilvusStandaloneInstall> {
  const version = milvusStandaloneVersion();
  const dir = await installOnce(
    cacheDir,
    `milvus-standalone-${version}`,
    `the Milvus ${version} standalone server from PyPI (~60 MB download, ~250 MB unpacked)`,
    log,
    async (tmp) => {
      const python = requireTool('python3', 'installing the Milvus standalone server');
      const logFile = join(cacheDir, `install-milvus-standalone-${version}.log`);
      const venv = join(tmp, 'venv');
      await runStep('creating a Python virtualenv', python, ['-m', 'venv', venv], { cwd: cacheDir, logFile, log });
      await runStep(
        `downloading Milvus ${version}`,
        join(venv, 'bin', 'python3'),
        ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', `milvus==${version}`],
        {
          cwd: tmp,
          logFile,
          log,
          watchDir: join(venv, 'lib'),
        },
      );
      await runStep(`unpacking Milvus ${version}`, join(venv, 'bin', 'python3'), ['-c', UNPACK_STANDALONE, tmp], {
        cwd: tmp,
        logFile,
        log,
        watchDir: join(tmp, 'bin'),
      });
      rmSync(venv, { recursive: true, force: true });
      if (!existsSync(join(tmp, 'bin', 'milvus'))) throw new EtlError('STACK', `the Milvus ${version} wheel has no server binary`, { hint: `see ${logFile}` });
    },
  );
  const install: MilvusStandaloneInstall = { version, binDir: join(dir, 'bin'), configTemplate: join(dir, 'milvus.yaml.template') };
  if (!existsSync(join(install.binDir, 'milvus')) || !existsSync(install.configTemplate)) {
    throw new EtlError('STACK', `the Milvus standalone install in ${dir} is incomplete`, { hint: `delete ${dir} and start again` });
  }
  return install;
}
