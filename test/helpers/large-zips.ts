import fs from 'node:fs';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { ONEROSTER_SPECS, type OneRosterFileName } from '../../src/formats/oneroster/spec.js';

/**
 * Zips for memory tests, written as streams so that the test process never holds the data: a zip bomb (a repeated
 * line, packed about 1000:1) and a large, valid OneRoster bundle with realistic ids (it packs about 3:1).
 */

/** Writes the zip; resolves with its size in bytes. */
async function finish(zip: yazl.ZipFile, file: string): Promise<number> {
  zip.end();
  await new Promise<void>((resolve, reject) => zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject));
  return fs.statSync(file).size;
}

/** `bytes` of `line` repeated, in 1 MiB pieces. */
function repeated(line: string, bytes: number): Readable {
  const piece = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length)));
  return Readable.from(
    (function* () {
      for (let left = bytes; left > 0; left -= piece.length) yield left >= piece.length ? piece : piece.subarray(0, left);
    })(),
  );
}

/** The row a zip bomb repeats: a valid users.csv row (every copy after the first repeats its sourcedId). */
export const BOMB_ROW = 'u1,,,true,o1,student,jd,,Jane,Doe,,,,,,,,\r\n';

/** A OneRoster-looking zip (manifest.csv and `entries`, each a users.csv header and BOMB_ROW `rowsPerEntry` times). */
export async function writeZipBomb(file: string, opts: { entries: string[]; rowsPerEntry: number }): Promise<number> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(buildManifest(new Set(['users']), 'bulk')), 'manifest.csv');
  const header = ONEROSTER_SPECS.get('users')!.headers.join(',') + '\r\n';
  for (const name of opts.entries) {
    const rows = repeated(BOMB_ROW, opts.rowsPerEntry * BOMB_ROW.length);
    zip.addReadStream(
      Readable.from(
        (async function* () {
          yield Buffer.from(header);
          for await (const c of rows) yield c as Buffer;
        })(),
      ),
      name,
    );
  }
  return finish(zip, file);
}

/**
 * Sets every central-directory entry's unpacked size to `declared` (a zip whose headers lie). yazl writes sizes for
 * streamed entries in the central directory and a data descriptor only, and readers trust the central directory.
 */
export function forgeDeclaredSizes(file: string, declared: number): void {
  const buf = fs.readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error('not a central directory entry');
    if (buf.readUInt32LE(at + 24) > 1024 * 1024) buf.writeUInt32LE(declared, at + 24);
    at += 46 + buf.readUInt16LE(at + 28) + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
  fs.writeFileSync(file, buf);
}

/** murmur3's finaliser: a bijection on 32 bits, so ids built from it are unique and look random. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
const hex = (n: number) => n.toString(16).padStart(8, '0');
/** A UUID-shaped id, unique per (kind, i). */
function uuid(kind: number, i: number): string {
  const a = mix(i * 16 + kind);
  const b = mix(a ^ 0x9e3779b9);
  const c = mix(b ^ 0x7f4a7c15);
  const d = mix(c ^ 0x2545f491);
  return `${hex(a)}-${hex(b).slice(0, 4)}-4${hex(b).slice(5)}-a${hex(c).slice(1, 4)}-${hex(c).slice(4)}${hex(d)}`;
}

/** One CSV file as a stream of ~200 KB pieces; `rows` yields whenever it may be paused. */
function csvFile(name: OneRosterFileName, rows: (emit: (cells: readonly string[]) => void) => Generator, count: (bytes: number) => void): Readable {
  const header = ONEROSTER_SPECS.get(name)!.headers;
  return Readable.from(
    (function* () {
      const lines = [header.join(',') + '\r\n'];
      const piece = () => {
        const b = Buffer.from(lines.join(''));
        lines.length = 0;
        count(b.length);
        return b;
      };
      for (const _ of rows((cells) => lines.push(cells.join(',') + '\r\n'))) if (lines.length >= 2000) yield piece();
      yield piece();
    })(),
  );
}

export interface LargeBundleInfo {
  zipBytes: number;
  unpackedBytes: number;
  rows: number;
}

/**
 * A valid OneRoster 1.1 bulk bundle for `students` students: 60 schools, a school year with two semesters (listed
 * before it, so that their references to it wait for the end of the file), a course per 100 students, a class per 20,
 * a teacher per 60, a guardian per two students (after them in users.csv, referred to through agentSourcedIds), six
 * enrollments a student and one a class, and a demographics row a student. About 1.6 KB of CSV a student.
 */
export async function writeLargeOneRosterZip(file: string, students: number): Promise<LargeBundleInfo> {
  const schools = 60;
  const courses = Math.max(1, Math.floor(students / 100));
  const classes = Math.max(1, Math.floor(students / 20));
  const teachers = Math.max(1, Math.floor(students / 60));
  const guardians = Math.max(1, Math.floor(students / 2));
  const [ORG, SESSION, COURSE, CLASS, USER, ENROLLMENT] = [1, 2, 3, 4, 5, 6];
  const school = (i: number) => uuid(ORG, 1 + (i % schools));
  const student = (i: number) => uuid(USER, i);
  const teacher = (i: number) => uuid(USER, students + i);
  const guardian = (i: number) => uuid(USER, students + teachers + i);
  const year = uuid(SESSION, 0);
  let unpackedBytes = 0;
  let rows = 0;
  const zip = new yazl.ZipFile();
  const add = (name: OneRosterFileName, gen: (emit: (cells: readonly string[]) => void) => Generator) => {
    const count = (bytes: number) => (unpackedBytes += bytes);
    zip.addReadStream(csvFile(name, (emit) => gen((cells) => (rows++, emit(cells))), count), `${name}.csv`, { compressionLevel: 1 });
  };
  add('orgs', function* (emit) {
    emit([uuid(ORG, 0), '', '', 'Lakeside CSD', 'district', '0001', '']);
    for (let i = 1; i <= schools; i++) emit([uuid(ORG, i), '', '', `School ${i}`, 'school', String(1000 + i), uuid(ORG, 0)]), yield;
  });
  add('academicSessions', function* (emit) {
    emit([uuid(SESSION, 1), '', '', 'Fall', 'semester', '2025-09-01', '2026-01-31', year, '2026']);
    emit([uuid(SESSION, 2), '', '', 'Spring', 'semester', '2026-02-01', '2026-06-30', year, '2026']);
    emit([year, '', '', '2025-2026', 'schoolYear', '2025-07-01', '2026-06-30', '', '2026']);
    yield;
  });
  add('courses', function* (emit) {
    for (let i = 0; i < courses; i++) emit([uuid(COURSE, i), '', '', year, `Course ${i}`, `C${i}`, '"09,10"', school(i), 'Math', '']), yield;
  });
  add('classes', function* (emit) {
    for (let i = 0; i < classes; i++) {
      emit([uuid(CLASS, i), '', '', `Class ${i}`, '09', uuid(COURSE, i % courses), `K${i}`, 'scheduled', `Room ${i % 300}`, school(i % courses), `"${uuid(SESSION, 1)},${uuid(SESSION, 2)}"`, '', '', '1']);
      yield;
    }
  });
  add('users', function* (emit) {
    for (let i = 0; i < students; i++) {
      emit([student(i), '', '', 'true', school(i), 'student', `s${i}`, '', 'Given', 'Family', '', `S${i}`, `s${i}@example.org`, '', '', guardian(Math.floor(i / 2)), '09', '']);
      yield;
    }
    for (let i = 0; i < teachers; i++) emit([teacher(i), '', '', 'true', school(i), 'teacher', `t${i}`, '', 'Given', 'Family', '', `T${i}`, `t${i}@example.org`, '', '', '', '', '']), yield;
    for (let i = 0; i < guardians; i++) emit([guardian(i), '', '', 'true', school(2 * i), 'guardian', `g${i}`, '', 'Given', 'Family', '', '', `g${i}@example.org`, '', '', '', '', '']), yield;
  });
  add('enrollments', function* (emit) {
    let e = 0;
    for (let i = 0; i < classes; i++) emit([uuid(ENROLLMENT, e++), '', '', uuid(CLASS, i), school(i % courses), teacher(i % teachers), 'teacher', 'true', '2025-09-01', '2026-06-30']), yield;
    for (let i = 0; i < students; i++) {
      for (let k = 0; k < 6; k++) {
        const c = (i * 7 + k * 131) % classes;
        emit([uuid(ENROLLMENT, e++), '', '', uuid(CLASS, c), school(c % courses), student(i), 'student', 'false', '2025-09-01', '']);
      }
      yield;
    }
  });
  add('demographics', function* (emit) {
    for (let i = 0; i < students; i++) emit([student(i), '', '', '2011-03-04', i % 2 ? 'male' : 'female', 'false', 'false', 'false', 'false', 'true', 'false', 'false', 'US', 'NY', 'Albany', '']), yield;
  });
  zip.addBuffer(Buffer.from(buildManifest(new Set(['orgs', 'academicSessions', 'courses', 'classes', 'users', 'enrollments', 'demographics']), 'bulk')), 'manifest.csv');
  const zipBytes = await finish(zip, file);
  return { zipBytes, unpackedBytes, rows };
}
