export { buildProgram, run, VERSION, type Io } from './program.js';
