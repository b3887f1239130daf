// Railway Infrastructure as Code for this repository: healthgate in front of the bundled demo app.
// `railway config plan` previews it, `railway config apply` applies it (docs/railway.md).
// railway.toml holds the same values for services still on Config as Code, which Railway stops
// reading on 2026-12-01.
import { defineRailway, service } from 'railway/iac';

// Seconds between SIGTERM and SIGKILL for the old deploy (Railway's default is 0).
const DRAINING_SECONDS = 30;

export default defineRailway((ctx, project) => {
  const healthgate = service('healthgate', {
    build: { builder: 'DOCKERFILE', dockerfilePath: 'Dockerfile' },
    deploy: {
      // healthgate answers this itself: 200 once the app behind it accepts connections.
      healthcheckPath: '/health',
      healthcheckTimeout: 120,
      restartPolicyType: 'ON_FAILURE',
      restartPolicyMaxRetries: 10,
      drainingSeconds: DRAINING_SECONDS,
    },
    // healthgate reads its drain budget from this variable: the same number, less half a second.
    env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: String(DRAINING_SECONDS) },
  });
  // The linked project keeps its name.
  return project(ctx.projectName ?? 'healthgate', { resources: [healthgate] });
});
