#!/usr/bin/env node
// A second MQTT broker for the tests: aedes (MQTT 3.1.1; installed by
// tests/scripts/install-aedes.sh) on one loopback port, with sessions and
// retained messages in memory (kept while this process runs).
//
//   node aedes-broker.js --modules DIR --port PORT [--log FILE]
//        [--tls-cert PEM --tls-key KEY [--tls-ca PEM [--require-cert]]]
//
// DIR holds node_modules/aedes.  --log appends every PUBLISH the broker
// takes from a client, before it acknowledges it, as topic<TAB>payload
// (payloads on topics ending in /z inflated), the format of
// tests/integration/sub.py: what a client's QoS 1 message was acknowledged
// for is in the file, even when the broker is killed next.
// Prints "ready PORT" once it listens; stops on SIGTERM or SIGINT.
'use strict'

const fs = require('fs')
const net = require('net')
const path = require('path')
const tls = require('tls')
const url = require('url')
const zlib = require('zlib')

function parseArgs (argv) {
  const a = { requireCert: false }
  const keys = {
    '--modules': 'modules',
    '--port': 'port',
    '--log': 'log',
    '--tls-cert': 'cert',
    '--tls-key': 'key',
    '--tls-ca': 'ca'
  }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--require-cert') {
      a.requireCert = true
    } else if (keys[argv[i]] && i + 1 < argv.length) {
      a[keys[argv[i]]] = argv[++i]
    } else {
      throw new Error('unknown argument ' + argv[i])
    }
  }
  if (!a.modules || !a.port) throw new Error('--modules DIR and --port PORT are required')
  if (!!a.cert !== !!a.key) throw new Error('--tls-cert and --tls-key go together')
  return a
}

// One line per PUBLISH, written at once (writeSync): the broker acknowledges
// only after authorizePublish calls back.
function publishLogger (file) {
  const fd = fs.openSync(file, 'a')
  return (client, packet, done) => {
    let payload = packet.payload
    if (packet.topic.endsWith('/z')) {
      try {
        payload = zlib.inflateSync(payload)
      } catch (e) {
        payload = Buffer.from('(not zlib: ' + e.message + ')')
      }
    }
    fs.writeSync(fd, packet.topic + '\t' + payload.toString('utf8') + '\n')
    done(null)
  }
}

async function main () {
  const a = parseArgs(process.argv.slice(2))
  const entry = path.join(path.resolve(a.modules), 'node_modules', 'aedes', 'aedes.js')
  const { Aedes } = await import(url.pathToFileURL(entry).href)
  const broker = await Aedes.createBroker()
  if (a.log) broker.authorizePublish = publishLogger(a.log)

  let server
  if (a.cert) {
    const opts = { cert: fs.readFileSync(a.cert), key: fs.readFileSync(a.key) }
    if (a.ca) opts.ca = fs.readFileSync(a.ca)
    opts.requestCert = a.requireCert
    opts.rejectUnauthorized = a.requireCert
    server = tls.createServer(opts, broker.handle)
  } else {
    server = net.createServer(broker.handle)
  }
  server.on('error', (e) => {
    console.error('aedes-broker: ' + e.message)
    process.exit(1)
  })
  server.listen(Number(a.port), '127.0.0.1', () => {
    console.log('ready ' + a.port)
  })
  const stop = () => {
    server.close()
    broker.close(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((e) => {
  console.error('aedes-broker: ' + e.message)
  process.exit(1)
})
