// A Node WebSocket echo app (the `ws` package): it knows nothing of HTTP health checks.
// It listens on $PORT, which healthgate sets to the backend port, on 127.0.0.1 only.
const { WebSocketServer } = require('ws');

const port = Number(process.env.PORT || 8081);
const wss = new WebSocketServer({ host: '127.0.0.1', port });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`node echo app listening on 127.0.0.1:${port}`));
// healthgate forwards SIGTERM when the platform stops the deploy: close cleanly.
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.close(1001, 'going away');
  wss.close(() => process.exit(0));
});
