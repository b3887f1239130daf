'use strict';
// The rows of the bench: what stands between the load client and the backend. Each row finds its
// program, writes its config into a temp dir, starts one fresh process on a port chosen now, and
// says whether it answers `/health` itself or passes it to the backend. Every proxy gets one
// worker thread or process, as healthgate (single-threaded Node) has.
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const proc = require('./processes');

const ROOT = join(__dirname, '..');

/** Absolute path of an executable on PATH (or in the sbin dirs, which a non-root PATH may lack). */
function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    if (spawnSync('test', ['-x', path]).status === 0) return path;
  }
  return undefined;
}

/** The first line a program prints of its version (on stdout or stderr). */
function versionOf(command, args) {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return (
    `${out.stdout ?? ''}${out.stderr ?? ''}`
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? '?'
  );
}

function haproxyConfig(mode, port, backendPort) {
  const http = mode === 'http';
  return `global
    nbthread 1
    maxconn 9000

defaults
    mode ${mode}
    timeout connect 5s
    timeout client 1h
    timeout server 1h
${http ? '    timeout tunnel 1h\n    timeout http-keep-alive 60s\n    timeout http-request 10s\n' : ''}
frontend public
    bind 127.0.0.1:${port}
${http ? '    http-request return status 200 content-type "text/plain; charset=utf-8" string "ok" if { path /health } !{ req.hdr(upgrade) -m found }\n' : ''}    default_backend app

backend app
    server app1 127.0.0.1:${backendPort}
`;
}

function nginxConfig(dir, port, backendPort) {
  return `worker_processes 1;
worker_rlimit_nofile ${proc.nofile};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
    worker_connections 12000;
}

http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    # Not the default of 1000: wrk's keep-alive connections are not cut every 1000 requests.
    keepalive_requests 1000000;
    keepalive_timeout 60s;

    upstream app {
        server 127.0.0.1:${backendPort};
    }

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    server {
        listen 127.0.0.1:${port} backlog=4096;

        location = /health {
            default_type text/plain;
            return 200 "ok\\n";
        }

        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
`;
}

/**
 * The rows, in their canonical order. `start(ctx)` resolves with `{ port, pid, stop }` of a fresh
 * proxy in front of `ctx.backendPort`; `pid` is undefined for direct. `missing` says why a row is
 * skipped. `baseline` (`{ ref, bundle }`, bench/baseline.js) adds healthgate as of an older commit.
 */
function defineRows(tmpDir, baseline) {
  const haproxy = which('haproxy');
  const nginx = which('nginx');
  const node = process.execPath;
  let counter = 0;
  const dirFor = (name) => {
    const dir = join(tmpDir, `${name}-${++counter}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const startProcess = async (command, args) => {
    const port = args.port;
    const child = proc.start(command, args.argv);
    await proc.waitForPort(port, child);
    return { port, pid: child.pid, stop: () => proc.stop(child) };
  };

  const haproxyRow = (mode) => ({
    id: `haproxy-${mode}`,
    label: `HAProxy (${mode})`,
    program: haproxy ? versionOf(haproxy, ['-v']) : undefined,
    missing: haproxy ? undefined : 'haproxy not installed (apt-get install haproxy)',
    // tcp mode cannot tell a health GET from a tunnel: it goes to the backend's Node http server.
    healthBy: mode === 'http' ? 'proxy' : 'backend',
    config: (port, backendPort) => haproxyConfig(mode, port, backendPort),
    async start({ backendPort }) {
      const port = await proc.freePort();
      const dir = dirFor(`haproxy-${mode}`);
      const cfg = join(dir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig(mode, port, backendPort));
      // -db: foreground, no daemon, no master: the pid is the one process that does the work.
      return startProcess(haproxy, { port, argv: ['-db', '-f', cfg] });
    },
  });

  const healthgateRow = (id, label, bundle, program) => ({
    id,
    label,
    program,
    healthBy: 'proxy',
    // Started as the image starts it (Dockerfile ENTRYPOINT): with a 2 MB V8 semi-space.
    command: (port, backendPort) =>
      `node --max-semi-space-size=2 dist/healthgate.cjs --port ${port} --host 127.0.0.1 --backend-host 127.0.0.1 --backend-port ${backendPort} --log-level warn`,
    async start({ backendPort, nodeArgs = [] }) {
      const port = await proc.freePort();
      const argv = [
        '--max-semi-space-size=2',
        ...nodeArgs,
        bundle,
        '--port',
        port,
        '--host',
        '127.0.0.1',
        '--backend-host',
        '127.0.0.1',
        '--backend-port',
        backendPort,
        '--log-level',
        'warn',
      ];
      return startProcess(node, { port, argv });
    },
  });
  const version = require(join(ROOT, 'package.json')).version;

  return [
    {
      id: 'direct',
      label: 'direct',
      program: `backend: node ${process.version} ws ${require('ws/package.json').version}`,
      healthBy: 'backend',
      async start({ backendPort }) {
        return { port: backendPort, pid: undefined, stop: async () => undefined };
      },
    },
    healthgateRow(
      'healthgate',
      'healthgate',
      join(ROOT, 'dist', 'healthgate.cjs'),
      `healthgate ${version} (dist/healthgate.cjs, node ${process.version})`,
    ),
    ...(baseline
      ? [
          healthgateRow(
            'healthgate-before',
            `healthgate before (${baseline.ref})`,
            baseline.bundle,
            `healthgate as of commit ${baseline.ref}, bundled the same way (bench/baseline.js)`,
          ),
        ]
      : []),
    haproxyRow('tcp'),
    haproxyRow('http'),
    {
      id: 'nginx',
      label: 'nginx (http proxy)',
      program: nginx ? versionOf(nginx, ['-v']) : undefined,
      missing: nginx ? undefined : 'nginx not installed (apt-get install nginx-light)',
      healthBy: 'proxy',
      config: (port, backendPort) => nginxConfig('<tmp>', port, backendPort),
      async start({ backendPort }) {
        const port = await proc.freePort();
        const dir = dirFor('nginx');
        const cfg = join(dir, 'nginx.conf');
        writeFileSync(cfg, nginxConfig(dir, port, backendPort));
        // A master and one worker; CPU and RSS are summed over both (the master idles).
        return startProcess(nginx, { port, argv: ['-p', dir, '-e', join(dir, 'error.log'), '-c', cfg] });
      },
    },
    {
      id: 'naive',
      label: 'naive Node pipe',
      program: `bench/naive-pipe.js (node ${process.version})`,
      healthBy: 'proxy',
      async start({ backendPort, nodeArgs = [] }) {
        const port = await proc.freePort();
        return startProcess(node, { port, argv: [...nodeArgs, join(__dirname, 'naive-pipe.js'), port, backendPort] });
      },
    },
  ];
}

module.exports = { defineRows, which, versionOf, haproxyConfig, nginxConfig };
