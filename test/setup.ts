// aws-local-stepfunctions calls Promise.withResolvers (Node 22); Node 20 runs the tests too.
import '../local/polyfills.ts';
