/** Store files written by the Go containers-storage 1.43 CLI (vfs), byte for byte. */

/** `layers.json` as written by Go. */
export const GO_LAYERS_JSON =
  '[{"id":"l1","names":["a\\u003cb\\u003e\\u0026c","ctl\\u0001\\u001f\\n\\t\\r","u\\u2028\\u2029\u00e9"],"metadata":"meta \\"q\\" \\\\ \u007f","created":"2026-11-25T17:04:13.040666023Z","big-data-names":["Layer Key!"]},{"id":"d6577e262650f5d279280e2c39a0bc761bddc3b47b618e008f0e08c221d4d4e2","parent":"l1","mountlabel":"lab","created":"2026-11-25T17:04:17.264883489Z"},{"id":"0580f670426630e086865710a05c10891fb4b9717447ffeb30e1c584ad663850","parent":"l1","created":"2026-11-25T17:04:17.791927979Z"},{"id":"l3","metadata":"x","created":"2026-11-25T17:15:27.290627752Z","compressed-diff-digest":"sha256:73b3f98b77fb730bf4e4cd4a6267b5d9561ab5bb897eef7fcd1c3c094cc1ff75","compressed-size":182,"diff-digest":"sha256:5fbde0e195264f3ebce515a360d661d5088460283a582e3e45dcb3f513ea20f2","diff-size":10240,"compression":2,"uidset":[0,1000],"gidset":[0,42],"uidmap":[{"container_id":0,"host_id":100000,"size":65536}],"gidmap":[{"container_id":0,"host_id":200000,"size":65536}]}]';

/** `images.json` as written by Go. */
export const GO_IMAGES_JSON =
  '[{"id":"i1","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","names":["img1","extra"],"names-history":["extra","img1"],"layer":"l1","metadata":"imgmeta","big-data-names":["manifest","sha256:cfg"],"big-data-sizes":{"manifest":12,"sha256:cfg":3},"big-data-digests":{"manifest":"sha256:de24a0bda93f6bf35af22228dcc31cc81b7fde49066864fe393cb6276ffd3872","sha256:cfg":"sha256:e67d23e7820c49a8051dac2831f38290f5e72f66c8db5079eeb60d82f14894c0"},"created":"2026-11-25T17:04:17.593705751Z"}]';

/** `containers.json` as written by Go. */
export const GO_CONTAINERS_JSON =
  '[{"id":"c1","names":["ctr1"],"image":"i1","layer":"0580f670426630e086865710a05c10891fb4b9717447ffeb30e1c584ad663850","metadata":"cm","big-data-names":["config.json"],"big-data-sizes":{"config.json":1},"big-data-digests":{"config.json":"sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"},"created":"2026-11-25T17:04:17.827995889Z","flags":{"MountLabel":"","ProcessLabel":""}}]';
