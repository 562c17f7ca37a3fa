// What every command runs with: the home directory and where to write. main.ts fills it from the real
// process; unit tests pass a temp home and string buffers.
import type { Io } from '../errors.js';

export interface Context {
  home: string;
  io: Io;
  cwd: string;
}
