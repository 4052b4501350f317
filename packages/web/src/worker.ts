import { expose } from 'comlink';
import { api } from './engine.js';

expose(api);
