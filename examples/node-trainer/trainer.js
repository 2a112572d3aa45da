#!/usr/bin/env node
// A trainer written in JavaScript that shares no code with hpo's Python SDK: it loads the
// .proto files from protos/ at run time and speaks the hpo.v1 contract directly.
//
//   node trainer.js --coordinator 127.0.0.1:50051 --study node-logreg --trials 12
//   node trainer.js --coordinator ... --check-errors      # bad input must get INVALID_ARGUMENT
//   node trainer.js --coordinator ... --study node-2 --warm-start node-logreg   # or auto; repeatable
//
// --warm-start NAME|auto (repeatable) creates the study warm-started from earlier studies: their
// completed trials inform the coordinator's sampler from the first Ask (see WarmStart in
// protos/hpo/v1/study.proto); the output lists the sources the coordinator chose and why.
//
// Security settings, as the Python SDK takes them (flags or environment): --token / HPO_TOKEN
// (sent as "authorization: Bearer <token>"), --tls-ca / HPO_TLS_CA (trust this CA; enables
// TLS), --tls-cert / HPO_TLS_CERT and --tls-key / HPO_TLS_KEY (mutual TLS).
//
// It trains logistic regression by gradient descent on generated data, one Report per epoch,
// stops when the coordinator's pruner says so, and Tells the validation loss. Every call has a
// deadline; UNAVAILABLE is retried with backoff; Ask carries a client id and Report/Tell carry
// request ids, so retries have one effect.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const DEADLINE_MS = 30000;
const RETRIES = 8;

function parseArgs(argv) {
  const args = {
    address: process.env.HPO_ADDRESS || '127.0.0.1:50051',
    study: 'node-logreg',
    trials: 12,
    epochs: 15,
    pruner: 'median',
    warmStart: [],
    clientId: `node-${os.hostname()}-${process.pid}`,
    checkErrors: false,
    token: process.env.HPO_TOKEN || '',
    tlsCa: process.env.HPO_TLS_CA || '',
    tlsCert: process.env.HPO_TLS_CERT || '',
    tlsKey: process.env.HPO_TLS_KEY || '',
  };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i];
    const next = () => argv[++i];
    if (key === '--coordinator') args.address = next();
    else if (key === '--address') {
      // The old name of --coordinator, as in the hpo command.
      console.error('note: --address is deprecated: use --coordinator');
      args.address = next();
    }
    else if (key === '--study') args.study = next();
    else if (key === '--trials') args.trials = Number(next());
    else if (key === '--epochs') args.epochs = Number(next());
    else if (key === '--pruner') args.pruner = next();
    else if (key === '--warm-start') args.warmStart.push(next());
    else if (key === '--client-id') args.clientId = next();
    else if (key === '--check-errors') args.checkErrors = true;
    else if (key === '--token') args.token = next();
    else if (key === '--tls-ca') args.tlsCa = next();
    else if (key === '--tls-cert') args.tlsCert = next();
    else if (key === '--tls-key') args.tlsKey = next();
    else throw new Error(`unknown option ${key}`);
  }
  return args;
}

function credentials(args) {
  if (!args.tlsCa && !args.tlsCert) return grpc.credentials.createInsecure();
  const read = (file) => (file ? fs.readFileSync(file) : null);
  return grpc.credentials.createSsl(read(args.tlsCa), read(args.tlsKey), read(args.tlsCert));
}

function connect(args) {
  const definition = protoLoader.loadSync(['hpo/v1/coordinator.proto'], {
    includeDirs: [PROTOS],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const hpo = grpc.loadPackageDefinition(definition).hpo.v1;
  const client = new hpo.Coordinator(args.address, credentials(args));
  client.metadata = new grpc.Metadata();
  if (args.token) client.metadata.set('authorization', `Bearer ${args.token}`);
  return client;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One unary call with a deadline; UNAVAILABLE is retried with exponential backoff and jitter
// (safe: Ask is idempotent per client_id, Suggest per name, Report and Tell per request_id).
async function call(client, method, request) {
  let delay = 50;
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + DEADLINE_MS);
        client[method](request, client.metadata, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
      });
    } catch (error) {
      if (error.code !== grpc.status.UNAVAILABLE || attempt >= RETRIES) throw error;
      await sleep(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

// Generated data: a fixed "true" weight vector labels Gaussian points (with label noise).
function makeData(n, dims, seed) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const truth = Array.from({ length: dims }, () => gauss());
  const X = [];
  const y = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: dims }, () => gauss());
    const z = x.reduce((s, v, j) => s + v * truth[j], 0) + 0.5 * gauss();
    X.push(x);
    y.push(z > 0 ? 1 : 0);
  }
  return { X, y };
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

function logLoss(w, b, data) {
  let total = 0;
  for (let i = 0; i < data.X.length; i++) {
    const p = Math.min(Math.max(sigmoid(dot(w, data.X[i]) + b), 1e-12), 1 - 1e-12);
    total -= data.y[i] * Math.log(p) + (1 - data.y[i]) * Math.log(1 - p);
  }
  return total / data.X.length;
}

const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);

function value(param) {
  const kind = param.kind;
  return param[kind];
}

async function suggest(client, study, number, name, distribution) {
  const response = await call(client, 'Suggest', { study, trial_number: number, name, distribution });
  return value(response.value);
}

async function runTrial(client, args, trial, train, valid) {
  const number = trial.number;
  const s = (name, distribution) => suggest(client, args.study, number, name, distribution);
  // Define-by-run, one parameter at a time; "momentum" exists only for that optimizer.
  const lr = await s('lr', { float_distribution: { low: 1e-4, high: 3.0, log: true } });
  const l2 = await s('l2', { float_distribution: { low: 1e-6, high: 1e-1, log: true } });
  const batch = await s('batch_size', { int_distribution: { low: 8, high: 64, log: true, step: 1 } });
  const optimizer = await s('optimizer', {
    categorical_distribution: { choices: [{ string_value: 'sgd' }, { string_value: 'momentum' }] },
  });
  const momentum = optimizer === 'momentum'
    ? await s('momentum', { float_distribution: { low: 0.5, high: 0.99 } })
    : 0;

  const dims = train.X[0].length;
  const w = new Array(dims).fill(0);
  const velocity = new Array(dims + 1).fill(0);
  let b = 0;
  let loss = logLoss(w, b, valid);
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    for (let start = 0; start < train.X.length; start += batch) {
      const grad = new Array(dims + 1).fill(0);
      const end = Math.min(start + batch, train.X.length);
      for (let i = start; i < end; i++) {
        const err = sigmoid(dot(w, train.X[i]) + b) - train.y[i];
        for (let j = 0; j < dims; j++) grad[j] += err * train.X[i][j];
        grad[dims] += err;
      }
      for (let j = 0; j <= dims; j++) {
        const g = grad[j] / (end - start) + (j < dims ? l2 * w[j] : 0);
        velocity[j] = momentum * velocity[j] + g;
        if (j < dims) w[j] -= lr * velocity[j];
        else b -= lr * velocity[j];
      }
    }
    loss = logLoss(w, b, valid);
    if (!Number.isFinite(loss)) loss = 1e6; // diverged: a large, reportable loss
    const report = await call(client, 'Report', {
      study: args.study, trial_number: number, step: epoch, value: loss,
      request_id: crypto.randomUUID(),
    });
    if (report.should_prune) {
      await call(client, 'Tell', {
        study: args.study, trial_number: number, state: 'TRIAL_STATE_PRUNED',
        request_id: crypto.randomUUID(),
      });
      return { number, state: 'pruned', epochs: epoch + 1 };
    }
  }
  await call(client, 'Tell', {
    study: args.study, trial_number: number, state: 'TRIAL_STATE_COMPLETE', values: [loss],
    request_id: crypto.randomUUID(),
  });
  return { number, state: 'complete', loss };
}

// The CreateStudy field for --warm-start: "auto" and study names.
function warmStart(args) {
  if (!args.warmStart.length) return undefined;
  return { auto: args.warmStart.includes('auto'), studies: args.warmStart.filter((n) => n !== 'auto') };
}

async function train(client, args) {
  const created = await call(client, 'CreateStudy', {
    name: args.study,
    directions: ['DIRECTION_MINIMIZE'],
    sampler: { name: 'tpe', options_json: JSON.stringify({ seed: 7, n_startup_trials: 4 }) },
    pruner: { name: args.pruner, options_json: JSON.stringify(args.pruner === 'median' ? { n_startup_trials: 3, n_warmup_steps: 2 } : {}) },
    trial_budget: args.trials,
    load_if_exists: true,
    warm_start: warmStart(args),
  });
  const sources = created.warm_start ? created.warm_start.sources.map((s) => ({ study: s.study, reason: s.reason })) : [];
  const data = makeData(600, 8, 42);
  const trainSet = { X: data.X.slice(0, 450), y: data.y.slice(0, 450) };
  const validSet = { X: data.X.slice(450), y: data.y.slice(450) };
  const results = [];
  for (;;) {
    const asked = await call(client, 'Ask', { study: args.study, client_id: args.clientId });
    if (asked.budget_spent) break;
    results.push(await runTrial(client, args, asked.trial, trainSet, validSet));
  }
  console.log(JSON.stringify({ study: args.study, warm_start: sources, trials: results }));
}

// Bad input must come back as INVALID_ARGUMENT naming the field, and write nothing.
async function checkErrors(client, args) {
  const study = `${args.study}-errors`;
  await call(client, 'CreateStudy', { name: study, directions: ['DIRECTION_MINIMIZE'], load_if_exists: true });
  const trial = (await call(client, 'Ask', { study, client_id: args.clientId })).trial;
  const cases = {
    low_above_high: ['Suggest', { study, trial_number: trial.number, name: 'x', distribution: { float_distribution: { low: 2, high: 1 } } }],
    no_distribution: ['Suggest', { study, trial_number: trial.number, name: 'x' }],
    empty_choices: ['Suggest', { study, trial_number: trial.number, name: 'c', distribution: { categorical_distribution: { choices: [] } } }],
    missing_name: ['CreateStudy', { directions: ['DIRECTION_MINIMIZE'] }],
    missing_directions: ['CreateStudy', { name: `${study}-x` }],
    nan_value: ['Report', { study, trial_number: trial.number, step: 0, value: NaN }],
    negative_step: ['Report', { study, trial_number: trial.number, step: -1, value: 1 }],
    wrong_value_count: ['Tell', { study, trial_number: trial.number, state: 'TRIAL_STATE_COMPLETE', values: [1, 2] }],
    unknown_sampler: ['CreateStudy', { name: `${study}-y`, directions: ['DIRECTION_MINIMIZE'], sampler: { name: 'annealing' } }],
    bad_options_json: ['CreateStudy', { name: `${study}-z`, directions: ['DIRECTION_MINIMIZE'], sampler: { name: 'tpe', options_json: '{' } }],
  };
  const outcome = {};
  for (const [label, [method, request]] of Object.entries(cases)) {
    try {
      await call(client, method, request);
      outcome[label] = { code: 'OK' };
    } catch (error) {
      outcome[label] = { code: grpc.status[error.code], details: error.details };
    }
  }
  console.log(JSON.stringify(outcome));
}

async function main() {
  const args = parseArgs(process.argv);
  const client = connect(args);
  try {
    if (args.checkErrors) await checkErrors(client, args);
    else await train(client, args);
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(`trainer failed: ${error.code !== undefined ? grpc.status[error.code] : ''} ${error.details || error.message}`);
  process.exit(1);
});
