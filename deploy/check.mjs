#!/usr/bin/env node
// Static checks of the deployment files, for machines without a Docker engine or a cluster:
// every YAML in docker-compose.yml and deploy/ parses; the compose services, the Kubernetes
// Deployments, Services, PDBs, HPAs and migration Jobs agree with the apps' entry points, ports and
// settings; every kustomization resource exists and every manifest is reachable from a root.
// When `kubectl` is on the PATH, both kustomize roots are also rendered with `kubectl kustomize`.
//
//   node deploy/check.mjs          # exits 1 and lists every problem found
//
// Adding an app: one line in APPS below.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Each app's HTTP port (PORT: API and/or /healthz, /readyz), the keys of its Secret (none: no
 * Secret), and whether it owns a schema with migrations (default true: a migration Job and a
 * compose migrate-<app> service, and DATABASE_URL).
 */
const APPS = {
  gateway: { port: 8080, secrets: ['DATABASE_URL', 'REDIS_URL', 'RUNYARD_BOOTSTRAP_API_KEY'] },
  sessions: { port: 8081, secrets: ['DATABASE_URL'] },
  runs: { port: 8082, secrets: ['DATABASE_URL'] },
  transcripts: { port: 8083, secrets: ['DATABASE_URL', 'REDIS_URL'] },
  worker: { port: 8086, secrets: [], migrations: false },
};
const hasMigrations = (app) => APPS[app].migrations !== false;
const SHARED_ENV = ['NATS_URL', 'LOG_LEVEL', 'PORT'];
const KUSTOMIZE_ROOTS = ['deploy/kubernetes/base', 'deploy/kubernetes/migrations'];

const problems = [];
const passed = [];
const fail = (where, message) => problems.push(`${where}: ${message}`);
const expect = (condition, where, message) => {
  if (!condition) fail(where, message);
  return Boolean(condition);
};
const entry = (app) => ['node', `apps/${app}/dist/main.js`];
const migration = (app) => ['node', `apps/${app}/dist/migrate.js`];
const asArgv = (command) => (typeof command === 'string' ? command.trim().split(/\s+/) : command);
const sameArgv = (a, b) => JSON.stringify(asArgv(a)) === JSON.stringify(b);
const imageRepo = (image) => String(image ?? '').replace(/[:@].*$/, '');

// ---------------------------------------------------------------------------------------- YAML
/** Prefers the `yaml` package if node_modules has it (duplicate keys are errors), else python3's PyYAML. */
async function yamlParser() {
  try {
    const YAML = (await import('yaml')).default;
    // yaml's exports map hides its package.json: find it next to the resolved entry point.
    const entryPoint = createRequire(import.meta.url).resolve('yaml');
    const manifest = join(entryPoint.slice(0, entryPoint.lastIndexOf('/node_modules/yaml/') + '/node_modules/yaml/'.length), 'package.json');
    const version = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : 'unknown version';
    return {
      name: `npm yaml ${version}`,
      parseAll(text) {
        const docs = YAML.parseAllDocuments(text, { merge: true, prettyErrors: true });
        const errors = docs.flatMap((doc) => [...doc.errors, ...doc.warnings]);
        if (errors.length > 0) throw new Error(errors.map((error) => error.message).join('; '));
        return docs.map((doc) => doc.toJSON()).filter((doc) => doc !== null && doc !== undefined);
      },
    };
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const script = 'import sys, json, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None], default=str))';
  const probe = spawnSync('python3', ['-c', 'import yaml; print(yaml.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('no YAML parser: neither node_modules/yaml nor python3 with PyYAML is available');
  return {
    name: `python3 PyYAML ${probe.stdout.trim()}`,
    parseAll(text) {
      const run = spawnSync('python3', ['-c', script], { input: text, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(run.stderr.trim().split('\n').slice(-3).join(' '));
      return JSON.parse(run.stdout);
    },
  };
}

function yamlFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

// ------------------------------------------------------------------------------------- compose
function checkCompose(compose) {
  const where = 'docker-compose.yml';
  const services = compose.services ?? {};
  const volumes = Object.keys(compose.volumes ?? {});

  const infra = { nats: 'nats:2.10-alpine', postgres: 'postgres:16-alpine', redis: 'redis:7-alpine' };
  for (const [name, image] of Object.entries(infra)) {
    expect(services[name]?.image === image, `${where} ${name}`, `image must be ${image}`);
  }
  const natsArgs = asArgv(services.nats?.command ?? []);
  expect(natsArgs.includes('-js') && natsArgs.join(' ').includes('-sd /data'), `${where} nats`, 'must run with -js -sd /data');
  expect(JSON.stringify(services.postgres?.healthcheck?.test ?? '').includes('pg_isready'), `${where} postgres`, 'healthcheck must use pg_isready');

  for (const [name, service] of Object.entries(services)) {
    const at = `${where} ${name}`;
    for (const mount of service.volumes ?? []) {
      const source = String(typeof mount === 'string' ? mount.split(':')[0] : mount.source);
      if (!source.startsWith('.') && !source.startsWith('/')) expect(volumes.includes(source), at, `volume ${source} is not declared`);
    }
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      expect(dependency in services, at, `depends_on unknown service ${dependency}`);
    }
    if (name.startsWith('migrate-')) {
      // One-shots: restarting a successful migration would re-run it forever.
      expect(service.restart === 'no', at, 'a one-shot migration must have restart: "no"');
      expect(service.depends_on?.postgres?.condition === 'service_healthy', at, 'must wait for postgres: service_healthy');
      continue;
    }
    expect(service.restart === 'unless-stopped', at, 'restart must be unless-stopped');
    expect(service.healthcheck?.test, at, 'has no healthcheck');
    if (service.build) expect(service.build.args?.APP in APPS, at, `builds APP=${service.build.args?.APP}, not an app in APPS`);
  }

  for (const [app, { port, secrets }] of Object.entries(APPS)) {
    const service = services[app];
    const at = `${where} ${app}`;
    if (!expect(service, where, `no service ${app}`)) continue;
    const env = service.environment ?? {};
    expect(service.build?.args?.APP === app, at, `build.args.APP must be ${app}`);
    expect(String(service.build?.args?.PORT) === String(port), at, `build.args.PORT must be ${port}`);
    expect(String(env.PORT) === String(port), at, `environment PORT must be ${port}`);
    for (const key of [...SHARED_ENV, ...(hasMigrations(app) ? ['DATABASE_URL'] : []), ...secrets]) expect(key in env, at, `environment lacks ${key}`);
    expect(service.command === undefined || sameArgv(service.command, entry(app)), at, `command must be ${entry(app).join(' ')} (or the image default)`);
    expect(JSON.stringify(service.healthcheck?.test ?? '').includes('/healthz'), at, 'healthcheck must hit /healthz');
    if (!hasMigrations(app)) {
      expect(!(`migrate-${app}` in services), at, `has no schema, so no migrate-${app} service`);
      expect(!('DATABASE_URL' in env), at, 'has no schema, so no DATABASE_URL');
      continue;
    }
    expect(service.depends_on?.[`migrate-${app}`]?.condition === 'service_completed_successfully', at, `must depend on migrate-${app}: service_completed_successfully`);

    const migrate = services[`migrate-${app}`];
    const mat = `${where} migrate-${app}`;
    if (!expect(migrate, where, `no service migrate-${app}`)) continue;
    expect(migrate.image === service.image, mat, `image must be the ${app} image (${service.image})`);
    expect(sameArgv(migrate.command, migration(app)), mat, `command must be ${migration(app).join(' ')}`);
    expect(String(migrate.environment?.DATABASE_URL ?? '') === String(env.DATABASE_URL), mat, `DATABASE_URL must match ${app}'s`);
  }
  const gatewayPorts = (services.gateway?.ports ?? []).map(String);
  expect(gatewayPorts.some((mapping) => mapping.endsWith(':8080')), `${where} gateway`, 'must publish container port 8080');
  expect(services.sessions?.deploy?.replicas === 2, `${where} sessions`, 'must run 2 replicas (deploy.replicas)');
  expect(services.worker?.deploy?.replicas === 2, `${where} worker`, 'must run 2 replicas (deploy.replicas)');
  passed.push(`compose: ${Object.keys(services).length} services (${Object.keys(services).join(', ')})`);
}

// ------------------------------------------------------------------------------------ kustomize
/** Walks a kustomization tree the way kustomize loads it; returns the docs and the files used. */
function walkKustomization(dir, parse, seen = new Set()) {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((name) => join(dir, name)).find(existsSync);
  const at = relative(ROOT, dir);
  if (!expect(file, at, 'no kustomization.yaml')) return { docs: [], files: [], images: [] };
  const [kustomization] = parse(file);
  const result = { docs: [], files: [file], images: [...(kustomization.images ?? [])] };
  for (const resource of kustomization.resources ?? []) {
    const path = resolve(dir, resource);
    if (!expect(existsSync(path), relative(ROOT, file), `resource ${resource} does not exist`)) continue;
    if (statSync(path).isDirectory()) {
      if (seen.has(path)) continue;
      seen.add(path);
      const nested = walkKustomization(path, parse, seen);
      result.docs.push(...nested.docs);
      result.files.push(...nested.files);
      result.images.push(...nested.images);
    } else {
      // kustomize's default load restrictor: files must sit under the kustomization's folder.
      expect(!relative(dir, path).startsWith('..'), relative(ROOT, file), `file ${resource} is outside the kustomization root; reference its folder`);
      result.docs.push(...parse(path).map((doc) => ({ ...doc, __file: relative(ROOT, path) })));
      result.files.push(path);
    }
  }
  return result;
}

const named = (docs, kind, name) => docs.find((doc) => doc.kind === kind && doc.metadata?.name === name);
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);

function checkWorkloadSecurity(podSpec, container, at) {
  const pod = podSpec.securityContext ?? {};
  const own = container.securityContext ?? {};
  expect(pod.runAsNonRoot === true || own.runAsNonRoot === true, at, 'must set runAsNonRoot: true');
  expect(own.readOnlyRootFilesystem === true, at, 'must set readOnlyRootFilesystem: true');
  expect(own.allowPrivilegeEscalation === false, at, 'must set allowPrivilegeEscalation: false');
  for (const kind of ['requests', 'limits']) {
    for (const resource of ['cpu', 'memory']) expect(container.resources?.[kind]?.[resource], at, `resources.${kind}.${resource} missing`);
  }
}

/** Each env variable read from a Secret: { variable, secret, key }. */
function secretRefs(container) {
  return (container.env ?? [])
    .filter((env) => env.valueFrom?.secretKeyRef)
    .map((env) => ({ variable: env.name, secret: env.valueFrom.secretKeyRef.name, key: env.valueFrom.secretKeyRef.key }));
}

function checkConfigRefs(container, docs, at) {
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) expect(named(docs, 'ConfigMap', source.configMapRef.name), at, `ConfigMap ${source.configMapRef.name} is not in the same kustomization`);
    expect(!source.secretRef, at, 'takes a whole Secret with envFrom; reference its keys one by one');
  }
}

function checkServices(docs) {
  const podTemplates = docs.filter((doc) => doc.spec?.template?.metadata).map((doc) => ({ doc, labels: doc.spec.template.metadata.labels }));
  for (const [app, { port, secrets }] of Object.entries(APPS)) {
    const name = `runyard-${app}`;
    const deployment = named(docs, 'Deployment', name);
    if (!expect(deployment, 'kubernetes base', `no Deployment ${name}`)) continue;
    const at = `${deployment.__file} Deployment ${name}`;
    const pod = deployment.spec.template;
    const selector = deployment.spec.selector?.matchLabels;
    expect(selector && matches(selector, pod.metadata.labels), at, 'selector does not match the pod template labels');
    for (const other of podTemplates) {
      if (other.doc !== deployment) expect(!matches(selector, other.labels), at, `selector also matches the pods of ${other.doc.kind} ${other.doc.metadata.name}`);
    }
    expect(deployment.spec.replicas === undefined, at, 'sets replicas although an HPA owns the count');
    expect(Number.isInteger(pod.spec.terminationGracePeriodSeconds), at, 'terminationGracePeriodSeconds missing');
    const container = pod.spec.containers?.find((candidate) => candidate.name === app);
    if (!expect(container, at, `no container named ${app}`)) continue;
    expect(imageRepo(container.image) === `runyard/${app}`, at, `image must be runyard/${app}, is ${container.image}`);
    expect(sameArgv(container.command, entry(app)), at, `command must be ${entry(app).join(' ')}`);
    const portDef = container.ports?.find((candidate) => candidate.containerPort === port);
    expect(portDef, at, `containerPort ${port} missing`);
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
    expect(env.PORT === String(port), at, `env PORT must be "${port}"`);
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']]) {
      const get = container[probe]?.httpGet;
      expect(get?.path === path, at, `${probe} must GET ${path}`);
      expect(get && (get.port === port || get.port === portDef?.name), at, `${probe} must target port ${port}`);
    }
    checkWorkloadSecurity(pod.spec, container, at);
    checkConfigRefs(container, docs, at);
    const refs = secretRefs(container);
    expect(refs.every((ref) => ref.secret === `${name}-secrets` && ref.variable === ref.key), at, `Secret references must be keys of ${name}-secrets, named like their variable`);
    expect(JSON.stringify(refs.map((ref) => ref.key).sort()) === JSON.stringify([...secrets].sort()), at, `Secret keys must be ${secrets.join(', ')}`);
    for (const key of ['NATS_URL', 'LOG_LEVEL']) {
      const configMap = named(docs, 'ConfigMap', container.envFrom?.find((source) => source.configMapRef)?.configMapRef.name);
      expect(configMap?.data && key in configMap.data, at, `${key} is not provided by its ConfigMap`);
    }

    const service = named(docs, 'Service', name);
    if (expect(service, 'kubernetes base', `no Service ${name}`)) {
      const sat = `${service.__file} Service ${name}`;
      expect(matches(service.spec.selector, pod.metadata.labels) && Object.keys(service.spec.selector ?? {}).length > 0, sat, `selector does not select the ${app} pods`);
      for (const servicePort of service.spec.ports ?? []) {
        const target = servicePort.targetPort ?? servicePort.port;
        expect(container.ports?.some((candidate) => candidate.name === target || candidate.containerPort === target), sat, `targetPort ${target} is not a container port`);
      }
    }
    const pdb = named(docs, 'PodDisruptionBudget', name);
    if (expect(pdb, 'kubernetes base', `no PodDisruptionBudget ${name}`)) {
      expect(matches(pdb.spec.selector?.matchLabels, pod.metadata.labels), `${pdb.__file} PodDisruptionBudget`, `selector does not select the ${app} pods`);
      expect(pdb.spec.minAvailable !== undefined || pdb.spec.maxUnavailable !== undefined, `${pdb.__file} PodDisruptionBudget`, 'needs minAvailable or maxUnavailable');
    }
    const hpa = named(docs, 'HorizontalPodAutoscaler', name);
    if (expect(hpa, 'kubernetes base', `no HorizontalPodAutoscaler ${name}`)) {
      const hat = `${hpa.__file} HorizontalPodAutoscaler`;
      expect(hpa.spec.scaleTargetRef?.kind === 'Deployment' && hpa.spec.scaleTargetRef?.name === name, hat, `must target Deployment ${name}`);
      expect(hpa.spec.metrics?.some((metric) => metric.resource?.name === 'cpu'), hat, 'must scale on cpu');
      expect(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas, hat, 'minReplicas must be between 1 and maxReplicas');
    }
  }
  for (const doc of docs) {
    expect(doc.kind !== 'Secret', doc.__file, 'a Secret in the base: real secrets are created out of band (see examples/)');
    if (doc.kind === 'Deployment' || doc.kind === 'Job') {
      const app = imageRepo(doc.spec.template.spec.containers?.[0]?.image).replace(/^runyard\//, '');
      expect(app in APPS, doc.__file, `${doc.kind} ${doc.metadata.name} runs an app not listed in APPS`);
    }
  }
}

function checkMigrations(docs, baseDocs) {
  for (const app of Object.keys(APPS)) {
    const name = `runyard-${app}-migrate`;
    const job = named(docs, 'Job', name);
    if (!hasMigrations(app)) {
      expect(!job, 'kubernetes migrations', `${app} has no schema, so no Job ${name}`);
      continue;
    }
    if (!expect(job, 'kubernetes migrations', `no Job ${name}`)) continue;
    const at = `${job.__file} Job ${name}`;
    const pod = job.spec.template;
    const [container] = pod.spec.containers ?? [];
    expect(['Never', 'OnFailure'].includes(pod.spec.restartPolicy), at, 'restartPolicy must be Never or OnFailure');
    expect(imageRepo(container?.image) === `runyard/${app}`, at, `image must be runyard/${app}`);
    expect(sameArgv(container?.command, migration(app)), at, `command must be ${migration(app).join(' ')}`);
    checkWorkloadSecurity(pod.spec, container ?? {}, at);
    checkConfigRefs(container ?? {}, docs, at);
    const refs = secretRefs(container ?? {});
    expect(refs.some((ref) => ref.key === 'DATABASE_URL'), at, 'needs DATABASE_URL');
    expect(refs.every((ref) => ref.secret === `runyard-${app}-secrets` && ref.variable === ref.key && APPS[app].secrets.includes(ref.key)), at, `Secret references must be keys of runyard-${app}-secrets`);
    for (const deployment of baseDocs.filter((doc) => doc.kind === 'Deployment')) {
      expect(!matches(deployment.spec.selector?.matchLabels, pod.metadata.labels), at, `its pods would match the selector of Deployment ${deployment.metadata.name}`);
    }
  }
}

function checkExamples(parse, baseDocs) {
  const secretsFile = join(ROOT, 'deploy/kubernetes/examples/secret.example.yaml');
  if (expect(existsSync(secretsFile), 'deploy/kubernetes/examples', 'secret.example.yaml missing')) {
    const secrets = parse(secretsFile);
    for (const [app, { secrets: keys }] of Object.entries(APPS)) {
      const secret = named(secrets, 'Secret', `runyard-${app}-secrets`);
      if (keys.length === 0) {
        expect(!secret, 'secret.example.yaml', `${app} reads no Secret, so no runyard-${app}-secrets`);
        continue;
      }
      if (!expect(secret, 'secret.example.yaml', `no Secret runyard-${app}-secrets`)) continue;
      const data = { ...secret.data, ...secret.stringData };
      for (const key of keys) expect(key in data, 'secret.example.yaml', `runyard-${app}-secrets lacks ${key}`);
    }
  }
  const ingressFile = join(ROOT, 'deploy/kubernetes/examples/ingress.example.yaml');
  if (expect(existsSync(ingressFile), 'deploy/kubernetes/examples', 'ingress.example.yaml missing')) {
    for (const ingress of parse(ingressFile).filter((doc) => doc.kind === 'Ingress')) {
      for (const path of (ingress.spec.rules ?? []).flatMap((rule) => rule.http?.paths ?? [])) {
        const backend = path.backend?.service;
        const service = named(baseDocs, 'Service', backend?.name);
        expect(service, 'ingress.example.yaml', `backend Service ${backend?.name} is not in the base`);
        expect(service?.spec.ports?.some((port) => port.name === backend?.port?.name || port.port === backend?.port?.number), 'ingress.example.yaml', 'backend port is not a port of the Service');
      }
    }
  }
}

function checkImagesAgree(images) {
  const tags = images.map((list) => JSON.stringify(list.map((image) => `${image.name}:${image.newTag ?? image.digest}`).sort()));
  expect(new Set(tags).size === 1, 'kustomizations', `image tags differ between ${KUSTOMIZE_ROOTS.join(' and ')}: ${tags.join(' vs ')}`);
  for (const app of Object.keys(APPS)) {
    expect(images.every((list) => list.some((image) => image.name === `runyard/${app}`)), 'kustomizations', `images must pin runyard/${app} in every root`);
  }
}

/** Renders each root with kubectl's built-in kustomize, if kubectl is installed. */
function renderWithKubectl(walked) {
  const which = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (which.status !== 0) {
    passed.push('kubectl kustomize: skipped (kubectl not found)');
    return;
  }
  const version = which.stdout.match(/Kustomize Version: (\S+)/)?.[1] ?? 'unknown';
  for (const [index, root] of KUSTOMIZE_ROOTS.entries()) {
    let output;
    try {
      output = execFileSync('kubectl', ['kustomize', join(ROOT, root)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      fail(root, `kubectl kustomize failed: ${String(error.stderr ?? error.message).trim()}`);
      continue;
    }
    const rendered = parser.parseAll(output);
    const key = (doc) => `${doc.kind}/${doc.metadata.name}`;
    expect(JSON.stringify(rendered.map(key).sort()) === JSON.stringify(walked[index].map(key).sort()), root, 'kubectl kustomize renders other resources than the files list');
    for (const doc of rendered.filter((candidate) => candidate.spec?.template?.spec?.containers)) {
      for (const container of doc.spec.template.spec.containers) {
        expect(/:[^/]+$|@sha256:/.test(container.image), `${root} (rendered) ${key(doc)}`, `image ${container.image} has no tag after kustomize`);
      }
    }
    passed.push(`kubectl kustomize ${root} (kustomize ${version}): ${rendered.length} resources, ${rendered.map(key).join(', ')}`);
  }
}

// ---------------------------------------------------------------------------- Dockerfile, repo
function checkDockerfileAndRepo() {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
  expect(/^ARG APP\b/m.test(instructions), 'Dockerfile', 'no ARG APP');
  expect(/FROM \$\{NODE_IMAGE\}|FROM node:20-bookworm-slim/.test(instructions) && instructions.includes('node:20-bookworm-slim'), 'Dockerfile', 'must build on node:20-bookworm-slim');
  expect(!/\bnpm ci\b/.test(instructions), 'Dockerfile', 'uses npm ci (fails with this lockfile, see STACK-NOTES)');
  expect(/npm install --omit=dev/.test(instructions), 'Dockerfile', 'runtime stage must install with --omit=dev');
  expect(/^USER (?!root|0\b)\S+/m.test(instructions), 'Dockerfile', 'must run as a non-root USER');
  expect(/^STOPSIGNAL SIGTERM/m.test(instructions), 'Dockerfile', 'STOPSIGNAL SIGTERM missing');
  expect(/^HEALTHCHECK[\s\S]*\/healthz/m.test(instructions), 'Dockerfile', 'HEALTHCHECK on /healthz missing');
  expect(/^ENV NODE_ENV=production/m.test(instructions), 'Dockerfile', 'NODE_ENV=production missing');
  const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const pattern of ['**/node_modules', '**/dist', '.git']) expect(dockerignore.includes(pattern), '.dockerignore', `must exclude ${pattern}`);

  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
  for (const app of Object.keys(APPS)) {
    expect(existsSync(join(ROOT, 'apps', app, 'package.json')), 'repo', `apps/${app}/package.json does not exist`);
    // The root scripts, where present, must start the same files as the images do.
    if (scripts[`start:${app}`]) expect(sameArgv(scripts[`start:${app}`], entry(app)), 'package.json', `start:${app} runs another entry than the image`);
    if (scripts[`migrate:${app}`]) expect(sameArgv(scripts[`migrate:${app}`], migration(app)), 'package.json', `migrate:${app} runs another file than the migration`);
  }
  passed.push('Dockerfile, .dockerignore and package.json scripts agree with APPS');
}

// ---------------------------------------------------------------------------------------- main
const parser = await yamlParser();
const parsedFiles = new Map();
/** Parses a file once (documents of a multi-document file in order). */
const parse = (path) => {
  if (!parsedFiles.has(path)) parsedFiles.set(path, parser.parseAll(readFileSync(path, 'utf8')));
  return parsedFiles.get(path);
};

const allYaml = [join(ROOT, 'docker-compose.yml'), ...yamlFiles(join(ROOT, 'deploy'))];
for (const file of allYaml) {
  try {
    parse(file);
  } catch (error) {
    fail(relative(ROOT, file), `does not parse: ${error.message}`);
  }
}
passed.push(`YAML (${parser.name}): ${allYaml.length - problems.length}/${allYaml.length} files parse`);

if (problems.length === 0) {
  checkCompose(parse(join(ROOT, 'docker-compose.yml'))[0]);
  const walked = KUSTOMIZE_ROOTS.map((root) => walkKustomization(join(ROOT, root), parse));
  const used = new Set(walked.flatMap((result) => result.files));
  const manifests = yamlFiles(join(ROOT, 'deploy/kubernetes')).filter((file) => !file.includes('/examples/'));
  for (const file of manifests) expect(used.has(file), relative(ROOT, file), `not reachable from ${KUSTOMIZE_ROOTS.join(' or ')}`);
  const [baseDocs, migrationDocs] = walked.map((result) => result.docs);
  checkServices(baseDocs);
  checkMigrations(migrationDocs, baseDocs);
  checkImagesAgree(walked.map((result) => result.images));
  checkExamples(parse, baseDocs);
  passed.push(`kustomize trees: ${manifests.length} manifests reachable; base ${baseDocs.length} resources, migrations ${migrationDocs.length}`);
  renderWithKubectl(walked.map((result) => result.docs));
  checkDockerfileAndRepo();
}

for (const line of passed) console.log(`ok   ${line}`);
for (const line of problems) console.error(`FAIL ${line}`);
console.log(problems.length === 0 ? `\nall deployment checks passed (apps: ${Object.keys(APPS).join(', ')})` : `\n${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
