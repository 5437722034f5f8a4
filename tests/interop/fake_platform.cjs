// Preloaded with `node --require` by the interop suite to run the connector's npm launcher as if on
// another platform: process.platform and process.arch become ALGA_FAKE_PLATFORM and ALGA_FAKE_ARCH.
'use strict';

Object.defineProperty(process, 'platform', { value: process.env.ALGA_FAKE_PLATFORM });
Object.defineProperty(process, 'arch', { value: process.env.ALGA_FAKE_ARCH });
