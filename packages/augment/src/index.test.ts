import { expect, it } from 'vitest';
import { PACKAGE_NAME } from './index.js';

it('names itself', () => expect(PACKAGE_NAME).toBe('@ssl/augment'));
