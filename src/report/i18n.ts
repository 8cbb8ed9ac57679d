/**
 * The clinical report's strings in English and Simplified Chinese, and the choice of language. Every label the
 * HTML shows goes through `t()`: a key missing in one language is a type error, not a blank in print.
 */

export type ReportLanguage = 'en' | 'zh';
export const REPORT_LANGUAGES: readonly ReportLanguage[] = ['en', 'zh'];

const EN = {
  title: 'AI-assisted imaging report',
  draft: 'DRAFT',
  draftNote: 'Draft: not signed by a physician.',
  patient: 'Patient',
  patientName: 'Name',
  patientId: 'Patient ID',
  birthDate: 'Birth date',
  sex: 'Sex',
  age: 'Age',
  study: 'Study',
  studyDate: 'Study date',
  accession: 'Accession number',
  studyDescription: 'Description',
  referringPhysician: 'Referring physician',
  institution: 'Institution',
  studyUid: 'Study Instance UID',
  impression: 'Impression',
  impressionOverride: 'Impression (physician)',
  lungRads: 'Lung-RADS category',
  drivingNodule: 'driving nodule',
  malignancyProbability: 'probability of malignancy',
  triage: 'Triage priority',
  triageCritical: 'CRITICAL: suspected acute intracranial haemorrhage or mass effect, read first',
  triageRoutine: 'routine: no acute haemorrhage flagged',
  noFindings: 'No findings above the reporting threshold.',
  analysisSkipped: 'not analysed',
  findings: 'Findings',
  finding: 'Finding',
  keyImage: 'Key image',
  type: 'Type',
  probability: 'AI probability',
  measurements: 'Measurements',
  category: 'Category',
  location: 'Location',
  review: 'Review',
  accepted: 'accepted',
  edited: 'edited',
  notReviewed: 'not reviewed',
  wasValue: 'AI value',
  rejectedCount: 'finding(s) rejected by the reviewing physician and not reported.',
  studyMeasurements: 'Study measurements',
  recommendations: 'Follow-up recommendation',
  guideline: 'Guideline',
  source: 'Source',
  fleischnerScope: 'incidental nodules, adults ≥ 35, not lung cancer screening',
  priorComparison: 'Comparison with prior study',
  priorStudy: 'Prior study',
  prior: 'Prior',
  current: 'Current',
  change: 'Change',
  algorithms: 'Algorithms',
  analysis: 'Analysis',
  version: 'Version',
  engine: 'Engine',
  resultId: 'Result / run',
  generatedAt: 'Generated',
  signedBy: 'Signed by',
  signedAt: 'Signed at',
  unsigned: 'Not signed',
  disclaimer: 'AI-assisted; requires physician confirmation. This report was produced by software and is not a diagnosis.',
  brock: 'Brock (PanCan) probability',
  'kind.lung-nodule': 'Lung nodule',
  'kind.hemorrhage': 'Intracranial haemorrhage',
  'm.meanDiameterMm': 'Mean diameter',
  'm.longAxisMm': 'Long axis',
  'm.shortAxisMm': 'Short axis',
  'm.maxDiameter3dMm': 'Max 3D diameter',
  'm.volumeMm3': 'Volume',
  'm.meanHu': 'Mean attenuation',
  'm.sdHu': 'Attenuation SD',
  'm.solidComponentMeanDiameterMm': 'Solid component',
  'm.volumeMl': 'Volume',
  'm.abc2VolumeMl': 'ABC/2 volume',
  'm.thicknessMm': 'Thickness',
  'm.diameterMm': 'Diameter',
  'm.hemorrhageVolumeMl': 'Total haemorrhage volume',
  'm.midlineShiftMm': 'Midline shift',
  'm.midlineShiftTowards': 'Midline shift towards',
  'm.massEffect': 'Mass effect',
  'm.hemorrhageType': 'Dominant haemorrhage type',
  'm.lungVolumeMl': 'Lung volume (total)',
  'm.emphysemaIndexLaa950': 'Emphysema index (LAA-950)',
  'm.nodulesAboveDisplayThreshold': 'Nodules reported',
  'v.solid': 'solid',
  'v.part-solid': 'part-solid',
  'v.ground-glass': 'ground-glass',
  'v.calcified': 'calcified',
  'v.intraparenchymal': 'intraparenchymal',
  'v.intraventricular': 'intraventricular',
  'v.subdural': 'subdural',
  'v.epidural': 'epidural',
  'v.subarachnoid': 'subarachnoid',
  'v.left': 'left',
  'v.right': 'right',
  'v.upper': 'upper zone',
  'v.middle': 'middle zone',
  'v.lower': 'lower zone',
  'v.central': 'central',
  'v.peripheral': 'peripheral',
  'v.juxtapleural': 'juxtapleural',
  'v.true': 'yes',
  'v.false': 'no',
  yes: 'yes',
  no: 'no',
} as const;

export type MessageKey = keyof typeof EN;

const ZH: Record<MessageKey, string> = {
  title: 'AI辅助影像报告',
  draft: '草稿',
  draftNote: '草稿：尚未经医师签署。',
  patient: '患者',
  patientName: '姓名',
  patientId: '患者编号',
  birthDate: '出生日期',
  sex: '性别',
  age: '年龄',
  study: '检查',
  studyDate: '检查日期',
  accession: '检查号',
  studyDescription: '检查描述',
  referringPhysician: '申请医师',
  institution: '医疗机构',
  studyUid: '检查实例UID',
  impression: '印象',
  impressionOverride: '印象（医师）',
  lungRads: 'Lung-RADS 分类',
  drivingNodule: '决定分类的结节',
  malignancyProbability: '恶性概率',
  triage: '分诊优先级',
  triageCritical: '危急：疑似急性颅内出血或占位效应，请优先阅片',
  triageRoutine: '常规：未提示急性出血',
  noFindings: '未见超过报告阈值的发现。',
  analysisSkipped: '未分析',
  findings: '发现',
  finding: '发现',
  keyImage: '关键图像',
  type: '类型',
  probability: 'AI 概率',
  measurements: '测量',
  category: '分类',
  location: '位置',
  review: '审核',
  accepted: '已接受',
  edited: '已修改',
  notReviewed: '未审核',
  wasValue: 'AI 原值',
  rejectedCount: '项发现被审核医师否决，未列入报告。',
  studyMeasurements: '检查测量',
  recommendations: '随访建议',
  guideline: '指南',
  source: '出处',
  fleischnerScope: '适用于偶发结节、35岁及以上成人，不适用于肺癌筛查',
  priorComparison: '与既往检查对比',
  priorStudy: '既往检查',
  prior: '既往',
  current: '本次',
  change: '变化',
  algorithms: '算法',
  analysis: '分析',
  version: '版本',
  engine: '引擎',
  resultId: '结果 / 运行时间',
  generatedAt: '生成时间',
  signedBy: '签署医师',
  signedAt: '签署时间',
  unsigned: '未签署',
  disclaimer: 'AI辅助结果，需经医师确认。本报告由软件生成，不构成诊断。',
  brock: 'Brock (PanCan) 恶性概率',
  'kind.lung-nodule': '肺结节',
  'kind.hemorrhage': '颅内出血',
  'm.meanDiameterMm': '平均直径',
  'm.longAxisMm': '长径',
  'm.shortAxisMm': '短径',
  'm.maxDiameter3dMm': '最大三维直径',
  'm.volumeMm3': '体积',
  'm.meanHu': '平均CT值',
  'm.sdHu': 'CT值标准差',
  'm.solidComponentMeanDiameterMm': '实性成分',
  'm.volumeMl': '体积',
  'm.abc2VolumeMl': 'ABC/2 体积',
  'm.thicknessMm': '厚度',
  'm.diameterMm': '直径',
  'm.hemorrhageVolumeMl': '出血总量',
  'm.midlineShiftMm': '中线移位',
  'm.midlineShiftTowards': '中线移位方向',
  'm.massEffect': '占位效应',
  'm.hemorrhageType': '主要出血类型',
  'm.lungVolumeMl': '肺容积（总）',
  'm.emphysemaIndexLaa950': '肺气肿指数 (LAA-950)',
  'm.nodulesAboveDisplayThreshold': '报告的结节数',
  'v.solid': '实性',
  'v.part-solid': '部分实性',
  'v.ground-glass': '磨玻璃',
  'v.calcified': '钙化',
  'v.intraparenchymal': '脑实质内',
  'v.intraventricular': '脑室内',
  'v.subdural': '硬膜下',
  'v.epidural': '硬膜外',
  'v.subarachnoid': '蛛网膜下腔',
  'v.left': '左',
  'v.right': '右',
  'v.upper': '上肺野',
  'v.middle': '中肺野',
  'v.lower': '下肺野',
  'v.central': '中央',
  'v.peripheral': '外周',
  'v.juxtapleural': '邻近胸膜',
  'v.true': '是',
  'v.false': '否',
  yes: '是',
  no: '否',
};

const TABLES: Record<ReportLanguage, Record<MessageKey, string>> = { en: EN, zh: ZH };

/** The string for `key` in `lang`. */
export function t(lang: ReportLanguage, key: MessageKey): string {
  return TABLES[lang][key];
}

/** A dynamic key (measurement name, coded value) when the table has it, else undefined. */
export function tMaybe(lang: ReportLanguage, key: string): string | undefined {
  const table = TABLES[lang] as Readonly<Record<string, string>>;
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export function isReportLanguage(v: unknown): v is ReportLanguage {
  return typeof v === 'string' && (REPORT_LANGUAGES as readonly string[]).includes(v);
}

/**
 * Character sets (PS3.3 C.12.1.1.2, SpecificCharacterSet defined terms) that a Chinese site uses: GB18030 and GBK
 * are Chinese by definition; ISO_IR 192 (UTF-8) is used everywhere, so it counts only when a name holds Han
 * characters.
 */
const CHINESE_CHARSETS = ['GB18030', 'GBK', 'ISO 2022 GB'];
const HAN = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/u;

export interface LanguageChoice {
  /** Configured language: wins when set. */
  readonly configured?: ReportLanguage | undefined;
  /** The study's SpecificCharacterSet (one value or the backslash/array form). */
  readonly specificCharacterSet?: string | readonly string[] | undefined;
  /** Names of the study (PatientName components, institution...), to tell a Chinese UTF-8 study from another. */
  readonly names?: readonly (string | undefined)[];
}

/** The report language: configuration first, then the study's charset (GB18030/GBK, or UTF-8 with Han names → zh). */
export function chooseReportLanguage(c: LanguageChoice): ReportLanguage {
  if (c.configured) return c.configured;
  const raw = c.specificCharacterSet;
  const sets = (typeof raw === 'string' ? raw.split('\\') : [...(raw ?? [])]).map((s) => s.trim().toUpperCase());
  if (sets.some((s) => CHINESE_CHARSETS.includes(s))) return 'zh';
  const han = (c.names ?? []).some((n) => n !== undefined && HAN.test(n));
  if (sets.includes('ISO_IR 192') && han) return 'zh';
  return 'en';
}
