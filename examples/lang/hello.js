// hello.js - node's http.createServer hello: the port is argv[2] (default
// 8080); every response names the path asked for.
const http = require('http');
const port = Number(process.argv[2] || 8080);
http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/plain'});
  res.end('hello from node ' + req.url + '\n');
}).listen(port);
