import { tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';

/** What EMA and teacher initialisation need of a network (`@ssl/models` Module satisfies it). */
export interface ParameterOwner {
  parameters(): Variable[];
  stateDict(): Record<string, Tensor>;
  loadStateDict(dict: Record<string, Tensor>, options?: { strict?: boolean }): unknown;
}

/**
 * Teacher EMA as main_dino.py: for each parameter pair (parameters, frozen ones included; never
 * buffers), teacher <- m * teacher + (1 - m) * student.
 */
export function emaUpdate(student: Variable[], teacher: Variable[], momentum: number): void {
  if (student.length !== teacher.length) {
    throw new Error(`emaUpdate: student has ${student.length} parameters, teacher ${teacher.length}`);
  }
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`emaUpdate: momentum must be in [0, 1], got ${momentum}`);
  student.forEach((s, i) => {
    const t = teacher[i] as Variable;
    if (!tf.util.arraysEqual(s.shape, t.shape)) {
      throw new Error(`emaUpdate: parameter ${i} has shape [${s.shape}] in the student and [${t.shape}] in the teacher`);
    }
  });
  tf.tidy(() => {
    const m = tf.scalar(momentum);
    const rest = tf.scalar(1 - momentum);
    student.forEach((s, i) => {
      const t = teacher[i] as Variable;
      t.assign(tf.add(tf.mul(t, m), tf.mul(s, rest)));
    });
  });
}

/** The teacher starts as a copy of the student (`teacher.load_state_dict(student.state_dict())`). */
export function copyStudentToTeacher(student: ParameterOwner, teacher: ParameterOwner): void {
  const sd = student.stateDict();
  try {
    teacher.loadStateDict(sd, { strict: true });
  } finally {
    tf.dispose(Object.values(sd));
  }
}
