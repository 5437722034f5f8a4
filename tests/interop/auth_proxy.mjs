// A loopback reverse proxy that adds `Authorization: Bearer <ALGA_BEARER>` to every request, for
// clients (the conformance suite) that cannot send headers. Usage: node auth_proxy.mjs
// TARGET_ORIGIN. Prints {"url": "http://127.0.0.1:PORT"} once listening.
//
// An Origin equal to the proxy's own is the same site for the server behind it, so it is passed on
// as the server's origin (as if the server's allowed origins named the proxy); any other Origin
// goes through untouched, so DNS-rebinding checks still reach the server.
import http from 'node:http';

const target = new URL(process.argv[2]);
let own = '';
const server = http.createServer((req, res) => {
  const headers = { ...req.headers, host: target.host, authorization: `Bearer ${process.env.ALGA_BEARER}` };
  if (headers.origin === own) headers.origin = target.origin;
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: ${e.message}`);
  });
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  own = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
