/** The semantic checks of pointy_engine/language/check.py: every problem, in source order. */

import * as ast from './ast';
import { Problem } from './errors';

const MIN_RETRY_FACTOR = '2';
const MAX_RETRY_FACTOR = '1000';
const MAX_DESCRIPTOR = '9';
const KNOWN_DIRECTIVES = ['recursive-depth'];
// Python's str.isdigit(): decimal digits and the digit-valued superscripts and circled forms.
const DIGITS = /^[\p{Nd}\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\u{10a40}-\u{10a43}\u{1f100}-\u{1f10a}]+$/u;

export function check(tree: ast.Pipeline): Problem[] {
  const problems: Problem[] = [];
  directiveProblems(tree.directives, problems);
  flowProblems(tree.flow, problems);
  return problems.sort((left, right) => left.start - right.start); // stable, as Python's
}

/** Every event occurrence, in source order. */
export function eventRefs(tree: ast.Pipeline): ast.EventRef[] {
  const found: ast.EventRef[] = [];
  const visit = (step: ast.Step): void => {
    switch (step.kind) {
      case 'event':
        found.push(step);
        break;
      case 'parallel':
        step.members.forEach(visit);
        break;
      case 'retry':
        visit(step.target);
        break;
      case 'group':
        step.body.steps.forEach(visit);
        break;
      case 'branched':
        visit(step.target);
        step.arms.forEach(arm => arm.body.steps.forEach(visit));
        break;
      case 'arm':
        step.body.steps.forEach(visit);
        break;
    }
  };
  tree.flow.steps.forEach(visit);
  return found;
}

function directiveProblems(directives: ast.Directive[], problems: Problem[]): void {
  for (const directive of directives) {
    const [start, end] = directive.span;
    const name = directive.name;
    if (!KNOWN_DIRECTIVES.includes(name)) {
      const known = KNOWN_DIRECTIVES.map(each => `@${each}`).join(', ');
      problems.push({
        message: `unknown directive '@${name}'; the known directive is ${known}`,
        start,
        end
      });
    } else if (directive.value === null || !DIGITS.test(directive.value)) {
      problems.push({
        message: `directive '@${name}' takes a whole number, as in '@${name}:50'`,
        start,
        end
      });
    }
  }
}

function flowProblems(flow: ast.Flow, problems: Problem[]): void {
  flow.steps.forEach(step => stepProblems(step, problems));
}

function stepProblems(step: ast.Step, problems: Problem[]): void {
  switch (step.kind) {
    case 'parallel':
      step.members.forEach(member => stepProblems(member, problems));
      break;
    case 'retry': {
      const [start, end] = step.span;
      if (step.target.kind === 'retry') {
        problems.push({ message: 'a step has two retry factors; give one', start, end });
      }
      if (
        ast.compareIntegers(step.factor, MIN_RETRY_FACTOR) < 0 ||
        ast.compareIntegers(step.factor, MAX_RETRY_FACTOR) > 0
      ) {
        problems.push({
          message: `retry factor ${step.factor} is out of range ${MIN_RETRY_FACTOR}..${MAX_RETRY_FACTOR}`,
          start,
          end
        });
      }
      stepProblems(step.target, problems);
      break;
    }
    case 'group':
      flowProblems(step.body, problems);
      break;
    case 'branched': {
      stepProblems(step.target, problems);
      const seen = new Set<string>();
      for (const arm of step.arms) {
        const start = arm.span[0];
        const end = start + arm.descriptor.length;
        if (ast.compareIntegers(arm.descriptor, MAX_DESCRIPTOR) > 0) {
          problems.push({
            message: `descriptor ${arm.descriptor} is out of range 0..${MAX_DESCRIPTOR}`,
            start,
            end
          });
        } else if (seen.has(arm.descriptor)) {
          problems.push({
            message: `descriptor ${arm.descriptor} appears twice in one branch group`,
            start,
            end
          });
        }
        seen.add(arm.descriptor);
        flowProblems(arm.body, problems);
      }
      break;
    }
    case 'arm': {
      const start = step.span[0];
      problems.push({
        message:
          `descriptor ${step.descriptor} is outside a branch group; arms go in parentheses ` +
          "right after an event, as in 'A (0 -> B, 1 -> C)'",
        start,
        end: start + step.descriptor.length
      });
      flowProblems(step.body, problems);
      break;
    }
    case 'event':
      break;
  }
}
