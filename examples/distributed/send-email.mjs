// A job handler for `bucketq work`: the payload arrives as JSON on stdin; exit 0 acks with stdout as
// the result, any other exit nacks with stderr as the error. Plain JavaScript, so each job starts in
// a fraction of the time a TypeScript loader would take.
let input = '';
for await (const chunk of process.stdin) input += chunk;
const email = JSON.parse(input);
const attempt = Number(process.env.BUCKETQ_ATTEMPT);
await new Promise((resolve) => setTimeout(resolve, 100)); // pretend to talk to SMTP
if (attempt <= (email.failTimes ?? 0)) {
  console.error('SMTP 451: try again later');
  process.exit(1);
}
console.log(JSON.stringify({ messageId: `<${process.env.BUCKETQ_JOB_ID}@example.com>` }));
