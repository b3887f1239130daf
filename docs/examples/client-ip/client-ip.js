// Which client is this? A Node `ws` app behind healthgate sees every connection come from
// 127.0.0.1 (healthgate's own socket). The platform's edge names the client in request headers,
// and healthgate passes the handshake on unchanged: read them from the upgrade request.
// It answers each connection with one message, the client's address, then echoes.
const { WebSocketServer } = require('ws');

function clientIp(request) {
  // X-Real-IP: Railway's edge. Fly-Client-IP: Fly's proxy. X-Forwarded-For is a list that a
  // client can start itself: its last entry is the one the platform's proxy added.
  for (const name of ['x-real-ip', 'fly-client-ip']) {
    const value = request.headers[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  const forwarded = request.headers['x-forwarded-for'];
  if (typeof forwarded === 'string' && forwarded !== '') return forwarded.split(',').at(-1).trim();
  return request.socket.remoteAddress;
}

const port = Number(process.env.PORT || 8081);
const wss = new WebSocketServer({ host: '127.0.0.1', port });
wss.on('connection', (ws, request) => {
  ws.send(clientIp(request));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`client-ip app listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.close(1001, 'going away');
  wss.close(() => process.exit(0));
});
