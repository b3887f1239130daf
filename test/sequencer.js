// Jest starts first the files it knows to be slow (durations from its cache), else the largest.
// On a clean clone it knows none, and image.test.ts (a small file, the podman builds: 25 s with
// warm layers, minutes without) would start last and end the run alone. It goes first here, so
// that the rest runs beside it.
const Sequencer = require('@jest/test-sequencer').default;

const BUILDS_IMAGES = /[/\\]test[/\\]shipping[/\\]image\.test\.ts$/;

class ImagesFirst extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    return [...sorted.filter((t) => BUILDS_IMAGES.test(t.path)), ...sorted.filter((t) => !BUILDS_IMAGES.test(t.path))];
  }
}

module.exports = ImagesFirst;
