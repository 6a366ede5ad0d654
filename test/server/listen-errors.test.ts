import assert from "node:assert/strict";
import { test } from "node:test";
import { describeListenError } from "../../src/server/listen-errors.ts";

test("listen failures are said plainly, with what to do", () => {
  const low = describeListenError("EACCES", "listen EACCES: permission denied 0.0.0.0:80");
  assert.match(low, /^cannot listen on 0\.0\.0\.0:80: permission denied \(ports below 1024 need root/);
  assert.match(low, /setcap cap_net_bind_service/);
  const high = describeListenError("EACCES", "listen EACCES: permission denied 127.0.0.1:8080");
  assert.equal(high, "cannot listen on 127.0.0.1:8080: permission denied");
  assert.match(
    describeListenError("EADDRNOTAVAIL", "listen EADDRNOTAVAIL: address not available 10.9.9.9:80"),
    /no interface of this machine has that address/,
  );
  assert.equal(describeListenError("EMFILE", "too many open files"), "too many open files");
});
